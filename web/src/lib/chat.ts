import type { ChatMessage, Sender } from '../api/types'

export const MAX_MESSAGE_LENGTH = 2000

/** Oldest first, each id once: a message can come back both in a response and over the socket. */
export function mergeMessages(current: readonly ChatMessage[], incoming: readonly ChatMessage[]): ChatMessage[] {
  const byId = new Map<string, ChatMessage>()
  for (const m of current) byId.set(m.id, m)
  for (const m of incoming) byId.set(m.id, m)
  return [...byId.values()].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id))
}

export function asChatMessage(message: Record<string, unknown>): ChatMessage | null {
  const { id, user_id, sender, text, created_at } = message
  if (
    typeof id !== 'string' ||
    typeof user_id !== 'string' ||
    typeof text !== 'string' ||
    typeof created_at !== 'string' ||
    !['user', 'bot', 'ai', 'admin'].includes(sender as string)
  ) {
    return null
  }
  return { id, user_id, sender: sender as Sender, text, created_at }
}

export type Viewer = 'client' | 'admin'

/** Whose side a bubble sits on: the viewer's own messages on the right. */
export function isOwn(sender: Sender, viewer: Viewer): boolean {
  return viewer === 'client' ? sender === 'user' : sender === 'admin'
}

export function senderLabel(sender: Sender, viewer: Viewer, clientName = 'Client'): string {
  switch (sender) {
    case 'user':
      return viewer === 'client' ? 'You' : clientName
    case 'bot':
      return 'EMS assistant'
    case 'ai':
      return 'AI assistant'
    case 'admin':
      return viewer === 'admin' ? 'Support (you)' : 'Support team'
  }
}

/** Local-calendar day of a message, for the separators between days. */
export function dayKey(iso: string): string {
  const d = new Date(iso)
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`
}

export function dayLabel(iso: string, now: Date = new Date()): string {
  const d = new Date(iso)
  const yesterday = new Date(now)
  yesterday.setDate(now.getDate() - 1)
  if (dayKey(iso) === dayKey(now.toISOString())) return 'Today'
  if (dayKey(iso) === dayKey(yesterday.toISOString())) return 'Yesterday'
  return d.toLocaleDateString('en-GB', { weekday: 'long', day: 'numeric', month: 'long' })
}

/**
 * Sends "typing" hints without flooding the socket: `true` at most every `repeatMs` while
 * the person types, `false` once they pause for `idleMs` or send.
 */
export class TypingNotifier {
  private typing = false
  private lastSent = 0
  private idleTimer: ReturnType<typeof setTimeout> | null = null
  private readonly emit: (typing: boolean) => void
  private readonly idleMs: number
  private readonly repeatMs: number
  private readonly now: () => number

  constructor(emit: (typing: boolean) => void, idleMs = 3000, repeatMs = 2500, now: () => number = Date.now) {
    this.emit = emit
    this.idleMs = idleMs
    this.repeatMs = repeatMs
    this.now = now
  }

  /** The person typed something. */
  input(): void {
    const t = this.now()
    if (!this.typing || t - this.lastSent >= this.repeatMs) {
      this.typing = true
      this.lastSent = t
      this.emit(true)
    }
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => this.stop(), this.idleMs)
  }

  /** The composer now holds `text`: typing while it holds any, stopped once it is emptied. */
  readonly composed = (text: string): void => (text ? this.input() : this.stop())

  /** Sent, cleared or left: no longer typing. */
  stop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = null
    if (this.typing) {
      this.typing = false
      this.emit(false)
    }
  }
}
