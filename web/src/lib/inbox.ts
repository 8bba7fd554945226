import type { ChatMessage, Conversation } from '../api/types'

/** Most recent conversation first. */
export function sortConversations(list: readonly Conversation[]): Conversation[] {
  return [...list].sort(
    (a, b) =>
      Date.parse(b.last_message_at) - Date.parse(a.last_message_at) || a.username.localeCompare(b.username),
  )
}

/**
 * A live message applied to the inbox: the conversation moves to the top with the message as
 * its last; a client's message counts as unread unless that conversation is open. Returns
 * null for a conversation the list does not know yet (the caller refetches).
 */
export function applyMessage(
  list: readonly Conversation[],
  message: ChatMessage,
  openUserId: string | null,
): Conversation[] | null {
  const index = list.findIndex((c) => c.user_id === message.user_id)
  if (index < 0) return null
  const current = list[index]
  if (Date.parse(current.last_message_at) > Date.parse(message.created_at)) return [...list]
  const unread =
    message.sender === 'user' && message.user_id !== openUserId ? current.unread_count + 1 : current.unread_count
  const updated: Conversation = {
    ...current,
    last_message: message.text,
    last_sender: message.sender,
    last_message_at: message.created_at,
    unread_count: unread,
  }
  return sortConversations([...list.slice(0, index), updated, ...list.slice(index + 1)])
}

export function markReadLocally(list: readonly Conversation[], userId: string): Conversation[] {
  return list.map((c) => (c.user_id === userId ? { ...c, unread_count: 0 } : c))
}

/** The inbox's preview line. */
export function previewOf(c: Conversation): { text: string; at: string | null } {
  if (!c.last_message) return { text: 'No messages yet', at: null }
  return { text: c.last_message, at: c.last_message_at ?? null }
}
