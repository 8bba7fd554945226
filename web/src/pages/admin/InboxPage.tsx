import { useEffect, useState } from 'react'
import { Link, useParams } from 'react-router-dom'
import { support } from '../../api/endpoints'
import { describeError } from '../../api/errors'
import type { Conversation } from '../../api/types'
import { useApi } from '../../auth/AuthProvider'
import { ChatThread } from '../../components/ChatThread'
import { Icon } from '../../components/Icon'
import { PageHeader } from '../../components/Layout'
import { EmptyState, ErrorState, Loaded, Loading } from '../../components/States'
import { useToast } from '../../components/Toasts'
import { useAsync } from '../../hooks/useAsync'
import { asChatMessage, mergeMessages } from '../../lib/chat'
import { formatMoment } from '../../lib/dates'
import { applyMessage, markReadLocally, previewOf, sortConversations } from '../../lib/inbox'
import { useReadWhileOpen } from '../../realtime/SupportUnread'
import { usePresence } from '../../realtime/presence'
import { useRealtimeMessage, useResync } from '../../realtime/RealtimeProvider'
import { useRemoteTyping, useTypingNotifier } from '../../realtime/typing'

export function InboxPage() {
  const api = useApi()
  const { userId = null } = useParams()
  const online = usePresence()
  const list = useAsync(
    async (signal) => sortConversations((await support.conversations(api, { page: 1, size: 100 }, signal)).items),
    [api],
  )
  useResync(list.reload)
  const [typingIn, setTypingIn] = useState<Record<string, number>>({})
  const [filter, setFilter] = useState('')

  useRealtimeMessage('chat.message', (message) => {
    const m = asChatMessage(message)
    if (!m || !list.data) return
    const next = applyMessage(list.data, m, userId)
    if (next) list.setData(next)
    else list.reload()
  })
  useRealtimeMessage('chat.typing', (message) => {
    if (message.sender !== 'user' || typeof message.user_id !== 'string') return
    const id = message.user_id
    setTypingIn((current) => ({ ...current, [id]: message.typing === true ? Date.now() + 6000 : 0 }))
  })
  // Expire typing marks whose "stopped" never came.
  useEffect(() => {
    const timer = setInterval(() => {
      setTypingIn((current) => {
        const now = Date.now()
        const live = Object.entries(current).filter(([, until]) => until > now)
        return live.length === Object.keys(current).length ? current : Object.fromEntries(live)
      })
    }, 2000)
    return () => clearInterval(timer)
  }, [])

  const markRead = (id: string) => {
    list.setData((current) => markReadLocally(current ?? [], id))
    return support.markRead(api, id)
  }

  const conversations = (list.data ?? []).filter((c) => !filter || c.username.toLowerCase().includes(filter.toLowerCase()))
  const selected = list.data?.find((c) => c.user_id === userId) ?? null

  return (
    <div className="inbox-page">
      <PageHeader title="Support inbox" description="Conversations with clients, most recent first." />
      <div className={`inbox card${userId ? ' has-thread' : ''}`}>
        <aside className="inbox-list" aria-label="Conversations">
          <div className="inbox-filter search">
            <Icon name="search" />
            <label className="sr-only" htmlFor="inbox-filter">
              Filter conversations
            </label>
            <input id="inbox-filter" type="search" placeholder="Filter by client" value={filter} onChange={(e) => setFilter(e.target.value)} />
          </div>
          {list.error ? (
            <ErrorState error={list.error} onRetry={list.reload} title="Couldn't load the inbox" />
          ) : !list.data ? (
            <Loading label="Loading conversations…" />
          ) : conversations.length === 0 ? (
            <EmptyState icon="inbox" title={filter ? 'No conversation matches' : 'No conversations yet'}>
              {!filter && 'When a client writes to support, the conversation appears here.'}
            </EmptyState>
          ) : (
            <ul>
              {conversations.map((c) => (
                <ConversationRow
                  key={c.user_id}
                  conversation={c}
                  active={c.user_id === userId}
                  online={online.has(c.user_id)}
                  typing={(typingIn[c.user_id] ?? 0) > Date.now()}
                />
              ))}
            </ul>
          )}
        </aside>
        <section className="inbox-thread" aria-label="Conversation">
          {userId ? (
            <Thread
              key={userId}
              userId={userId}
              username={selected?.username ?? 'Client'}
              online={online.has(userId)}
              onSeen={markRead}
            />
          ) : (
            <EmptyState icon="chat" title="Pick a conversation">
              Choose a client on the left to read and answer their messages.
            </EmptyState>
          )}
        </section>
      </div>
    </div>
  )
}

const PREFIX: Record<string, string> = { admin: 'Support: ', bot: 'Assistant: ', ai: 'Assistant: ' }

function ConversationRow({ conversation: c, active, online, typing }: { conversation: Conversation; active: boolean; online: boolean; typing: boolean }) {
  const preview = previewOf(c)
  return (
    <li>
      <Link to={`/admin/inbox/${c.user_id}`} className={`conv${active ? ' active' : ''}${c.unread_count ? ' unread' : ''}`} aria-current={active ? 'true' : undefined}>
        <span className="avatar" aria-hidden="true">
          {c.username.slice(0, 1).toUpperCase()}
          <span className={`presence ${online ? 'on' : ''}`} />
        </span>
        <span className="conv-main">
          <span className="conv-top">
            <strong>{c.username}</strong>
            <span className="sr-only">{online ? ' (online)' : ' (offline)'}</span>
            {preview.at && <time className="muted small">{formatMoment(preview.at)}</time>}
          </span>
          <span className="conv-preview muted">
            {typing ? <em className="typing-text">typing…</em> : `${PREFIX[c.last_sender] ?? ''}${preview.text}`}
          </span>
        </span>
        {c.unread_count > 0 && (
          <span className="badge" aria-label={`${c.unread_count} unread`}>
            {c.unread_count}
          </span>
        )}
      </Link>
    </li>
  )
}

function Thread({ userId, username, online, onSeen }: { userId: string; username: string; online: boolean; onSeen: (userId: string) => Promise<void> }) {
  const api = useApi()
  const toast = useToast()
  const history = useAsync((signal) => support.history(api, userId, signal), [api, userId])
  useResync(history.reload)
  const clientTyping = useRemoteTyping(userId, 'user')
  const notifier = useTypingNotifier((typing) => ({ type: 'chat.typing', user_id: userId, typing }))
  useReadWhileOpen(userId, onSeen, history.data?.length)

  useRealtimeMessage('chat.message', (message) => {
    const m = asChatMessage(message)
    if (m && m.user_id === userId) history.setData((current) => mergeMessages(current ?? [], [m]))
  })

  const send = async (text: string) => {
    notifier.stop()
    try {
      const message = await support.reply(api, userId, text)
      if (message && typeof message === 'object' && 'id' in message) {
        history.setData((current) => mergeMessages(current ?? [], [message]))
      }
      return true
    } catch (error) {
      toast({ tone: 'error', title: "Your reply wasn't sent", body: describeError(error) })
      return false
    }
  }

  return (
    <>
      <header className="thread-header">
        <Link to="/admin/inbox" className="btn btn-sm btn-ghost thread-back">
          <Icon name="left" /> <span>Inbox</span>
        </Link>
        <span className="avatar" aria-hidden="true">
          {username.slice(0, 1).toUpperCase()}
          <span className={`presence ${online ? 'on' : ''}`} />
        </span>
        <div>
          <h2>{username}</h2>
          <p className="muted small">{online ? 'Online now' : 'Offline'}</p>
        </div>
      </header>
      <Loaded state={history} errorTitle="Couldn't load this conversation" loadingLabel="Loading conversation…">
        {(messages) => (
          <ChatThread
            messages={messages}
            viewer="admin"
            clientName={username}
            typing={clientTyping ? `${username} is typing…` : null}
            onSend={send}
            onInput={notifier.composed}
            placeholder={`Reply to ${username}…`}
            empty={<EmptyState icon="chat" title="No messages yet" />}
          />
        )}
      </Loaded>
    </>
  )
}
