import { Argument, type Command } from 'commander';
import { bashCompletion, zshCompletion } from '../completion.js';
import type { Io } from '../io.js';
import { examples } from '../options.js';

/** `completion bash|zsh`: prints the completion script for the shell. */
export function registerCompletion(parent: Command, io: Io, program: Command): void {
  parent
    .command('completion')
    .description('Print a shell completion script for bash or zsh.')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText('after', examples(
      'source <(sagactl completion bash)                       # in ~/.bashrc',
      'sagactl completion bash > /etc/bash_completion.d/sagactl',
      'source <(sagactl completion zsh)                        # in ~/.zshrc, after compinit',
    ))
    .action((shell: 'bash' | 'zsh') => {
      io.out(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
    });
}
