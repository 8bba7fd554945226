import { Fragment, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react'
import type { ChatMessage } from '../api/types'
import { dayKey, dayLabel, isOwn, MAX_MESSAGE_LENGTH, senderLabel, type Viewer } from '../lib/chat'
import { formatMoment } from '../lib/dates'
import { Icon } from './Icon'

export function ChatThread({
  messages,
  viewer,
  clientName,
  typing,
  empty,
  onSend,
  onInput,
  placeholder,
  composerNote,
}: {
  messages: readonly ChatMessage[]
  viewer: Viewer
  clientName?: string
  /** "Support team is typing…", or null. */
  typing: string | null
  empty: ReactNode
  /** Resolves true when sent (the composer then clears). */
  onSend: (text: string) => Promise<boolean>
  onInput?: (text: string) => void
  placeholder: string
  composerNote?: ReactNode
}) {
  const scroller = useRef<HTMLDivElement>(null)
  const stick = useRef(true)
  const [draft, setDraft] = useState('')
  const [sending, setSending] = useState(false)
  const input = useRef<HTMLTextAreaElement>(null)

  // Follow new messages, unless the reader has scrolled up to read older ones.
  useLayoutEffect(() => {
    const el = scroller.current
    if (el && stick.current) el.scrollTop = el.scrollHeight
  }, [messages, typing])

  useEffect(() => {
    const el = input.current
    if (!el) return
    el.style.height = 'auto'
    el.style.height = `${Math.min(el.scrollHeight, 140)}px`
  }, [draft])

  const send = async () => {
    const text = draft.trim()
    if (!text || sending) return
    setSending(true)
    stick.current = true
    const ok = await onSend(text)
    setSending(false)
    if (ok) setDraft('')
    input.current?.focus()
  }

  return (
    <div className="chat">
      <div
        className="chat-scroll"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60
        }}
      >
        {messages.length === 0 ? (
          <div className="chat-empty">{empty}</div>
        ) : (
          <ol className="messages" aria-label="Messages" aria-live="polite" aria-relevant="additions">
            {messages.map((m, i) => {
              const own = isOwn(m.sender, viewer)
              const newDay = i === 0 || dayKey(messages[i - 1].created_at) !== dayKey(m.created_at)
              const sameAuthor = !newDay && i > 0 && messages[i - 1].sender === m.sender
              return (
                <Fragment key={m.id}>
                  {newDay && (
                    <li className="day-sep" aria-hidden="true">
                      <span>{dayLabel(m.created_at)}</span>
                    </li>
                  )}
                  <li className={`msg msg-${m.sender} ${own ? 'own' : 'other'}${sameAuthor ? ' cont' : ''}`} data-sender={m.sender}>
                    {!own && !sameAuthor && (
                      <span className="msg-author">
                        {m.sender === 'bot' || m.sender === 'ai' ? <Icon name="bot" /> : null}
                        {senderLabel(m.sender, viewer, clientName)}
                      </span>
                    )}
                    <div className="bubble">
                      <span className="sr-only">{senderLabel(m.sender, viewer, clientName)}: </span>
                      {m.text}
                    </div>
                    <time className="msg-time" dateTime={m.created_at}>
                      {formatMoment(m.created_at)}
                    </time>
                  </li>
                </Fragment>
              )
            })}
          </ol>
        )}
        {typing && (
          <p className="typing" role="status">
            <span className="typing-dots" aria-hidden="true">
              <i />
              <i />
              <i />
            </span>
            {typing}
          </p>
        )}
      </div>
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault()
          void send()
        }}
      >
        {composerNote && <div className="composer-note">{composerNote}</div>}
        <div className="composer-row">
          <label htmlFor="chat-input" className="sr-only">
            Message
          </label>
          <textarea
            id="chat-input"
            ref={input}
            rows={1}
            value={draft}
            maxLength={MAX_MESSAGE_LENGTH}
            placeholder={placeholder}
            onChange={(e) => {
              setDraft(e.target.value)
              onInput?.(e.target.value)
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
                e.preventDefault()
                void send()
              }
            }}
          />
          <button type="submit" className="btn btn-primary" disabled={!draft.trim() || sending} aria-label="Send message">
            <Icon name="send" />
            <span className="hide-sm">Send</span>
          </button>
        </div>
        {draft.length > MAX_MESSAGE_LENGTH - 200 && (
          <p className="field-hint">
            {draft.length} / {MAX_MESSAGE_LENGTH} characters
          </p>
        )}
      </form>
    </div>
  )
}
