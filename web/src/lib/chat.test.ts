import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ChatMessage, Conversation } from '../api/types'
import { asChatMessage, isOwn, mergeMessages, senderLabel, TypingNotifier } from './chat'
import { applyMessage, sortConversations } from './inbox'

const msg = (id: string, at: string, sender: ChatMessage['sender'] = 'user', user_id = 'c1'): ChatMessage => ({
  id,
  user_id,
  sender,
  text: id,
  created_at: at,
})

describe('chat messages', () => {
  it('merges by id and keeps time order', () => {
    const merged = mergeMessages([msg('a', '2026-01-01T10:00:00Z'), msg('c', '2026-01-01T10:02:00Z')], [msg('b', '2026-01-01T10:01:00Z'), msg('a', '2026-01-01T10:00:00Z')])
    expect(merged.map((m) => m.id)).toEqual(['a', 'b', 'c'])
  })

  it('puts own messages on the right for each viewer', () => {
    expect(isOwn('user', 'client')).toBe(true)
    expect(isOwn('admin', 'client')).toBe(false)
    expect(isOwn('admin', 'admin')).toBe(true)
    expect(isOwn('bot', 'admin')).toBe(false)
  })

  it('names every sender', () => {
    expect(senderLabel('bot', 'client')).toBe('EMS assistant')
    expect(senderLabel('ai', 'client')).toBe('AI assistant')
    expect(senderLabel('admin', 'client')).toBe('Support team')
    expect(senderLabel('user', 'admin', 'ann')).toBe('ann')
  })

  it('accepts only well-formed socket messages', () => {
    expect(asChatMessage({ type: 'chat.message', ...msg('a', '2026-01-01T10:00:00Z') })).toEqual(msg('a', '2026-01-01T10:00:00Z'))
    expect(asChatMessage({ type: 'chat.message', id: 'a', sender: 'root' })).toBeNull()
  })
})

describe('typing notifier', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('says "typing" once per burst, then "stopped" after a pause', () => {
    const sent: boolean[] = []
    let now = 0
    const notifier = new TypingNotifier((t) => sent.push(t), 3000, 2500, () => now)
    notifier.input()
    now = 500
    notifier.input()
    now = 1000
    notifier.input()
    expect(sent).toEqual([true])
    now = 2600
    notifier.input()
    expect(sent).toEqual([true, true])
    vi.advanceTimersByTime(3000)
    expect(sent).toEqual([true, true, false])
  })

  it('stops at once when the message is sent', () => {
    const sent: boolean[] = []
    const notifier = new TypingNotifier((t) => sent.push(t))
    notifier.input()
    notifier.stop()
    notifier.stop()
    expect(sent).toEqual([true, false])
  })
})

describe('inbox', () => {
  const conv = (user_id: string, at: string, unread = 0): Conversation => ({
    user_id,
    username: user_id,
    last_message: 'x',
    last_sender: 'user',
    last_message_at: at,
    unread_count: unread,
    unread_for_user: 0,
  })

  it('sorts by last message, newest first', () => {
    const sorted = sortConversations([conv('a', '2026-01-01T10:00:00Z'), conv('b', '2026-01-02T10:00:00Z')])
    expect(sorted.map((c) => c.user_id)).toEqual(['b', 'a'])
  })

  it('moves a conversation to the top and counts a client message as unread', () => {
    const list = [conv('a', '2026-01-02T10:00:00Z'), conv('b', '2026-01-01T10:00:00Z', 1)]
    const next = applyMessage(list, msg('m', '2026-01-03T10:00:00Z', 'user', 'b'), null)!
    expect(next.map((c) => [c.user_id, c.unread_count, c.last_message])).toEqual([
      ['b', 2, 'm'],
      ['a', 0, 'x'],
    ])
  })

  it('does not count messages of the open conversation or from support', () => {
    const list = [conv('a', '2026-01-01T10:00:00Z')]
    expect(applyMessage(list, msg('m', '2026-01-03T10:00:00Z', 'user', 'a'), 'a')![0].unread_count).toBe(0)
    expect(applyMessage(list, msg('m', '2026-01-03T10:00:00Z', 'admin', 'a'), null)![0].unread_count).toBe(0)
  })

  it('asks for a refetch when a new client writes', () => {
    expect(applyMessage([], msg('m', '2026-01-03T10:00:00Z', 'user', 'new'), null)).toBeNull()
  })
})
