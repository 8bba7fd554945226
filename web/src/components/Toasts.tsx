import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { Icon } from './Icon'

export type ToastTone = 'info' | 'success' | 'error' | 'alert'

export interface ToastInput {
  tone?: ToastTone
  title: string
  body?: string
  /** ms before it goes by itself; 0 keeps it until dismissed. */
  timeoutMs?: number
  /** A toast with the key of one still showing takes its place (and restarts its time). */
  key?: string
}

interface Toast extends Required<Omit<ToastInput, 'body' | 'key'>> {
  id: number
  body?: string
  key?: string
}

const ToastContext = createContext<((toast: ToastInput) => void) | null>(null)

const DEFAULT_TIMEOUT: Record<ToastTone, number> = { info: 5000, success: 4000, error: 8000, alert: 12000 }
/** How long an alert toast stays up by itself. */
export const ALERT_TOAST_MS = DEFAULT_TIMEOUT.alert
const MAX_VISIBLE = 4

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([])
  const nextId = useRef(1)

  const dismiss = useCallback((id: number) => setToasts((list) => list.filter((t) => t.id !== id)), [])
  const push = useCallback((input: ToastInput) => {
    const tone = input.tone ?? 'info'
    const toast: Toast = {
      id: nextId.current++,
      tone,
      title: input.title,
      body: input.body,
      timeoutMs: input.timeoutMs ?? DEFAULT_TIMEOUT[tone],
      key: input.key,
    }
    setToasts((list) => [...list.filter((t) => toast.key === undefined || t.key !== toast.key), toast].slice(-MAX_VISIBLE))
  }, [])

  const value = useMemo(() => push, [push])
  return (
    <ToastContext.Provider value={value}>
      {children}
      <div className="toasts" role="region" aria-label="Notifications">
        {toasts.map((toast) => (
          <ToastItem key={toast.id} toast={toast} onDismiss={() => dismiss(toast.id)} />
        ))}
      </div>
    </ToastContext.Provider>
  )
}

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: () => void }) {
  const [paused, setPaused] = useState(false)
  useEffect(() => {
    if (toast.timeoutMs === 0 || paused) return
    const timer = setTimeout(onDismiss, toast.timeoutMs)
    return () => clearTimeout(timer)
  }, [toast.timeoutMs, paused, onDismiss])
  const icon = toast.tone === 'alert' ? 'alert' : toast.tone === 'error' ? 'alert' : toast.tone === 'success' ? 'check' : 'info'
  return (
    <div
      className={`toast toast-${toast.tone}`}
      role={toast.tone === 'alert' || toast.tone === 'error' ? 'alert' : 'status'}
      onMouseEnter={() => setPaused(true)}
      onMouseLeave={() => setPaused(false)}
      onFocus={() => setPaused(true)}
      onBlur={() => setPaused(false)}
    >
      <Icon name={icon} className="toast-icon" />
      <div className="toast-text">
        <strong>{toast.title}</strong>
        {toast.body && <p>{toast.body}</p>}
      </div>
      <button type="button" className="icon-btn" onClick={onDismiss} aria-label="Dismiss notification">
        <Icon name="close" />
      </button>
    </div>
  )
}

export function useToast(): (toast: ToastInput) => void {
  const value = useContext(ToastContext)
  if (!value) throw new Error('useToast outside ToastProvider')
  return value
}
