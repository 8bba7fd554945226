import { useEffect, useMemo, useRef, useState } from 'react'
import { TypingNotifier } from '../lib/chat'
import { useRealtime, useRealtimeMessage } from './RealtimeProvider'

/** How long a "typing" hint lasts when its "stopped" never arrives (a closed tab). */
const TYPING_TTL_MS = 6000

/**
 * Whether the other side of one conversation is typing: `chat.typing` from `from` about the
 * conversation of `userId`, expiring by itself.
 */
export function useRemoteTyping(userId: string | undefined, from: 'user' | 'admin'): boolean {
  const [typing, setTyping] = useState(false)
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null)
  useRealtimeMessage('chat.typing', (message) => {
    if (!userId || message.user_id !== userId || message.sender !== from) return
    if (timer.current) clearTimeout(timer.current)
    setTyping(message.typing === true)
    if (message.typing === true) timer.current = setTimeout(() => setTyping(false), TYPING_TTL_MS)
  })
  // A message from that side ends its typing.
  useRealtimeMessage('chat.message', (message) => {
    if (message.user_id === userId && message.sender === from) setTyping(false)
  })
  useEffect(() => {
    setTyping(false)
    return () => {
      if (timer.current) clearTimeout(timer.current)
    }
  }, [userId])
  return typing
}

/** Tell the other side of a conversation that we are typing (throttled). */
export function useTypingNotifier(buildMessage: (typing: boolean) => Record<string, unknown> | null) {
  const { send } = useRealtime()
  const build = useRef(buildMessage)
  build.current = buildMessage
  const notifier = useMemo(
    () =>
      new TypingNotifier((typing) => {
        const message = build.current(typing)
        if (message) send(message)
      }),
    [send],
  )
  useEffect(() => () => notifier.stop(), [notifier])
  return notifier
}
