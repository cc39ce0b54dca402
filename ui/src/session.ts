/** What the signed-in token may do, shared by every page (actions are hidden from a read-only token). */
import { createContext } from 'preact';
import type { Access } from '../../engine/api/routes-whoami.js';

export interface Session {
  readonly access: Access;
  /** Called when the server refused an action (403): the token may only read. */
  readonly demote: () => void;
}

/** The session of the console; `operate` until the server says otherwise. */
export const SessionContext = createContext<Session>({ access: 'operate', demote: () => undefined });
