/**
 * `sagactl completion bash|zsh`: shell completion scripts generated from the command tree, so
 * they list exactly the commands and options this sagactl has.
 */
import type { Command, Option } from 'commander';
import { InstanceStatus } from '../engine/core/index.js';

interface Node {
  /** The command words after `sagactl`, e.g. `dlq list`; every alias spelling has its own node. */
  readonly path: string;
  readonly subcommands: readonly { readonly name: string; readonly description: string }[];
  readonly options: readonly { readonly flag: string; readonly description: string }[];
  readonly files: boolean;
}

/** Options whose value names a file; option values with fixed choices are completed from them. */
const fileOptions = ['--db', '--file', '-f', '--cases'];
const fileArguments = /^(file|a|b)$/;

function optionFlags(o: Option): string[] {
  return [o.long, o.short].filter((f): f is string => f !== undefined);
}

/** Pure: every command path with its subcommands and options (global options included). */
export function commandTree(program: Command): Node[] {
  const globals = program.options.filter((o) => !o.hidden);
  const out: Node[] = [];
  const walk = (cmd: Command, paths: string[]): void => {
    const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const options = [...cmd.options, ...(cmd === program ? [] : globals)].filter((o) => !o.hidden);
    const files = cmd.registeredArguments.some((a) => fileArguments.test(a.name()));
    for (const path of paths) {
      out.push({
        path,
        subcommands: subs.flatMap((s) => [s.name(), ...s.aliases()].map((name) => ({ name, description: s.description() }))),
        options: [...options.flatMap((o) => optionFlags(o).map((flag) => ({ flag, description: o.description }))), { flag: '--help', description: 'show help' }],
        files,
      });
    }
    for (const s of subs) walk(s, paths.flatMap((p) => [s.name(), ...s.aliases()].map((n) => (p === '' ? n : `${p} ${n}`))));
  };
  walk(program, ['']);
  return out;
}

const states = Object.values(InstanceStatus).join(' ');
const sagaNames = `sagactl defs list -o jsonl 2>/dev/null | sed -n 's/^{"name":"\\([^"]*\\)".*/\\1/p'`;

/** Pure: the bash script; `source <(sagactl completion bash)`. */
export function bashCompletion(program: Command): string {
  const nodes = commandTree(program);
  const known = nodes.filter((n) => n.path !== '').map((n) => `" ${n.path}"`).join('|');
  const cases = nodes.map((n) => {
    const words = [...n.subcommands.map((s) => s.name), ...n.options.map((o) => o.flag)].join(' ');
    return `    "${n.path === '' ? '' : ` ${n.path}`}") words="${words}"${n.files ? '; files=1' : ''};;`;
  }).join('\n');
  return `# bash completion for sagactl. Load it with: source <(sagactl completion bash)
# or install it: sagactl completion bash > /etc/bash_completion.d/sagactl
_sagactl() {
  local cur prev cmdpath="" w i words="" files=0
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$cmdpath $w" in
      ${known}) cmdpath="$cmdpath $w";;
    esac
  done
  case "$prev" in
    --state) COMPREPLY=($(compgen -W "${states}" -- "$cur")); return;;
    -o|--output) COMPREPLY=($(compgen -W "table json jsonl" -- "$cur")); return;;
    ${fileOptions.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return;;
    --saga) COMPREPLY=($(compgen -W "$(${sagaNames})" -- "$cur")); return;;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return;;
  esac
  case "$cmdpath" in
${cases}
  esac
  if [[ $files == 1 && $cur != -* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
}
complete -F _sagactl sagactl
`;
}

const zq = (s: string): string => s.replace(/'/g, "'\\''").replace(/:/g, '\\:');

/** Pure: the zsh script; `source <(sagactl completion zsh)` after compinit. */
export function zshCompletion(program: Command): string {
  const nodes = commandTree(program);
  const known = nodes.filter((n) => n.path !== '').map((n) => `" ${n.path}"`).join('|');
  const cases = nodes.map((n) => {
    const cmds = n.subcommands.map((s) => `'${zq(s.name)}:${zq(s.description)}'`).join(' ');
    const opts = n.options.map((o) => `'${zq(o.flag)}:${zq(o.description)}'`).join(' ');
    return `    "${n.path === '' ? '' : ` ${n.path}`}") cmds=(${cmds}); opts=(${opts})${n.files ? '; files=1' : ''};;`;
  }).join('\n');
  return `#compdef sagactl
# zsh completion for sagactl. Load it with: source <(sagactl completion zsh)   (after compinit)
# or install it: sagactl completion zsh > "\${fpath[1]}/_sagactl"
_sagactl() {
  local cmdpath="" w i files=0
  local -a cmds opts
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    case "$cmdpath $w" in
      ${known}) cmdpath="$cmdpath $w";;
    esac
  done
  case \${words[CURRENT-1]} in
    --state) compadd ${states}; return;;
    -o|--output) compadd table json jsonl; return;;
    ${fileOptions.join('|')}) _files; return;;
    --saga) compadd $(${sagaNames}); return;;
    completion) compadd bash zsh; return;;
  esac
  case "$cmdpath" in
${cases}
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    _describe -t options 'option' opts
  elif (( files )); then
    _files
  elif (( \${#cmds} )); then
    _describe -t commands 'command' cmds
  fi
}
compdef _sagactl sagactl
`;
}
