import { useState } from 'react'
import { support } from '../../api/endpoints'
import { describeError } from '../../api/errors'
import type { ChatMode } from '../../api/types'
import { useApi, useUser } from '../../auth/AuthProvider'
import { ChatThread } from '../../components/ChatThread'
import { PageHeader } from '../../components/Layout'
import { Segmented } from '../../components/Segmented'
import { EmptyState, Loaded } from '../../components/States'
import { useToast } from '../../components/Toasts'
import { useAsync } from '../../hooks/useAsync'
import { asChatMessage, mergeMessages } from '../../lib/chat'
import { useRealtimeMessage, useResync } from '../../realtime/RealtimeProvider'
import { useReadWhileOpen } from '../../realtime/SupportUnread'
import { useRemoteTyping, useTypingNotifier } from '../../realtime/typing'

const MODES = [
  { value: 'bot', label: 'Assistant' },
  { value: 'admin', label: 'Human support' },
] as const
const MODE_KEY = 'ems.chat.mode'

export function SupportPage() {
  const api = useApi()
  const user = useUser()
  const toast = useToast()
  const [mode, setModeState] = useState<ChatMode>(() => (localStorage.getItem(MODE_KEY) === 'admin' ? 'admin' : 'bot'))
  const [waitingForBot, setWaitingForBot] = useState(false)
  const history = useAsync((signal) => support.history(api, undefined, signal), [api])
  useResync(history.reload)
  const adminTyping = useRemoteTyping(user.id, 'admin')
  const notifier = useTypingNotifier((typing) =>
    mode === 'admin' ? { type: 'chat.typing', typing } : null,
  )

  const setMode = (next: ChatMode) => {
    localStorage.setItem(MODE_KEY, next)
    notifier.stop()
    setModeState(next)
  }

  useReadWhileOpen(user.id, (id) => support.markRead(api, id), history.data?.length)

  useRealtimeMessage('chat.message', (message) => {
    const m = asChatMessage(message)
    if (m && m.user_id === user.id) history.setData((current) => mergeMessages(current ?? [], [m]))
  })

  const send = async (text: string) => {
    notifier.stop()
    if (mode === 'bot') setWaitingForBot(true)
    try {
      const result = await support.send(api, text, mode)
      history.setData((current) =>
        mergeMessages(current ?? [], result.reply ? [result.message, result.reply] : [result.message]),
      )
      return true
    } catch (error) {
      toast({ tone: 'error', title: "Your message wasn't sent", body: describeError(error) })
      return false
    } finally {
      setWaitingForBot(false)
    }
  }

  const typing = waitingForBot ? 'The assistant is typing…' : adminTyping ? 'Support team is typing…' : null

  return (
    <div className="support-page">
      <PageHeader
        title="Support"
        description={
          mode === 'bot'
            ? 'The assistant answers at once, day and night.'
            : 'Your message goes to our support team; replies appear here.'
        }
        actions={<Segmented label="Who answers" value={mode} options={MODES} onChange={setMode} />}
      />
      <section className="card chat-card" aria-label="Conversation with support">
        <Loaded state={history} errorTitle="Couldn't load your conversation" loadingLabel="Loading conversation…">
          {(messages) => (
            <ChatThread
              messages={messages}
              viewer="client"
              typing={typing}
              onSend={send}
              onInput={notifier.composed}
              placeholder={mode === 'bot' ? 'Ask about consumption, devices, alerts…' : 'Write to our support team…'}
              composerNote={
                mode === 'admin' ? (
                  <span>Talking to a person · usually answered within office hours</span>
                ) : (
                  <span>Talking to the assistant · switch to “Human support” to reach a person</span>
                )
              }
              empty={
                <EmptyState icon="chat" title="How can we help?">
                  Ask about your consumption, devices, alerts or your account. Try “Why did I get an alert?”
                </EmptyState>
              }
            />
          )}
        </Loaded>
      </section>
    </div>
  )
}
