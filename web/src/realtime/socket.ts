// One WebSocket to /ws that stays up: it reconnects with exponential backoff and jitter,
// re-authenticates after a 4401 close (the server closes a socket when its token expires),
// and gives up — forcing a logout — only when the server keeps refusing a fresh token or
// says the account is gone (4403).

export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'stopped'

export interface ServerMessage {
  type: string
  [field: string]: unknown
}

export const CLOSE_UNAUTHORIZED = 4401
export const CLOSE_FORBIDDEN = 4403

interface SocketLike {
  readyState: number
  onopen: ((event: Event) => void) | null
  onclose: ((event: CloseEvent) => void) | null
  onmessage: ((event: MessageEvent) => void) | null
  onerror: ((event: Event) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

export type SocketFactory = (url: string) => SocketLike

export interface RealtimeOptions {
  url: (token: string) => string
  /** A usable access token (refreshed when needed), or null when signed out. */
  getToken: () => Promise<string | null>
  /** Rotate the token after a 4401; resolves false when the login is over. */
  reauthenticate: () => Promise<'ok' | 'failed' | 'transient'>
  /**
   * Called when connections keep failing before they open: a gateway refusing the token
   * answers the handshake with 401, which the browser reports only as an abnormal close.
   * The caller checks the session over REST (which logs out if it is really over).
   */
  checkSession: () => Promise<void>
  onAuthFailure: (reason: 'expired' | 'removed') => void
  onMessage: (message: ServerMessage) => void
  onStatus?: (status: ConnectionStatus) => void
  /** The socket came back after a drop: anything pushed meanwhile was missed. */
  onResync?: () => void
  createSocket?: SocketFactory
  initialDelayMs?: number
  maxDelayMs?: number
  /** An open connection that lasts this long resets the backoff. */
  stableMs?: number
  /**
   * Send `ping` this often and drop a socket that heard nothing for 2.5 intervals: a
   * half-open connection (a sleeping laptop, a dead Wi-Fi) otherwise looks open forever.
   * 0 turns it off.
   */
  heartbeatMs?: number
  random?: () => number
  now?: () => number
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (handle: unknown) => void
}

const OPEN = 1
const RESUME_MARGIN_MS = 30_000

export class RealtimeSocket {
  private readonly o: Required<Omit<RealtimeOptions, 'onStatus' | 'onResync'>> &
    Pick<RealtimeOptions, 'onStatus' | 'onResync'>
  private socket: SocketLike | null = null
  private timer: unknown = null
  private stopped = true
  private attempts = 0
  private authRefusals = 0
  private failedOpens = 0
  private everOpened = false
  private openedAt: number | null = null
  private status: ConnectionStatus = 'stopped'
  private heartbeat: unknown = null
  private lastHeard = 0
  /** Wall-clock time of the last message heard, for `resume` after a drop. */
  private lastHeardAt: number | null = null

  constructor(options: RealtimeOptions) {
    this.o = {
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      initialDelayMs: 500,
      maxDelayMs: 15_000,
      stableMs: 5_000,
      heartbeatMs: 25_000,
      random: Math.random,
      now: Date.now,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      ...options,
    }
  }

  get connectionStatus(): ConnectionStatus {
    return this.status
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    void this.connect()
  }

  stop(): void {
    this.stopped = true
    this.cancelTimer()
    this.stopHeartbeat()
    const socket = this.socket
    this.socket = null
    if (socket) {
      socket.onclose = null
      socket.onmessage = null
      socket.close(1000, 'bye')
    }
    this.setStatus('stopped')
  }

  /** Send a JSON message now; false when the socket is not open (typing hints are droppable). */
  send(message: Record<string, unknown>): boolean {
    if (!this.socket || this.socket.readyState !== OPEN) return false
    this.socket.send(JSON.stringify(message))
    return true
  }

  /** Hand the open socket a rotated token, so the server keeps it open past the old one's expiry. */
  renewToken(token: string): void {
    this.send({ type: 'auth', token })
  }

  /** Reconnect at once instead of waiting out the backoff (the browser came back online). */
  nudge(): void {
    if (this.stopped || this.socket) return
    this.cancelTimer()
    void this.connect()
  }

  private async connect(): Promise<void> {
    this.timer = null
    this.setStatus(this.everOpened ? 'reconnecting' : 'connecting')
    const token = await this.o.getToken()
    if (this.stopped) return
    if (token === null) {
      this.giveUp('expired')
      return
    }
    const socket = this.o.createSocket(this.o.url(token))
    this.socket = socket
    this.openedAt = null
    socket.onopen = () => {
      if (socket !== this.socket) return
      this.openedAt = this.o.now()
      this.lastHeard = this.openedAt
      this.startHeartbeat(socket)
      this.failedOpens = 0
      const resumed = this.everOpened
      this.everOpened = true
      this.setStatus('open')
      if (resumed) {
        // Ask for what was pushed while we were away (the server keeps a few minutes of
        // alerts and chat). The margin covers clock skew; repeats are dropped by id.
        if (this.lastHeardAt !== null) {
          this.send({ type: 'resume', since: new Date(this.lastHeardAt - RESUME_MARGIN_MS).toISOString() })
        }
        this.o.onResync?.()
      }
    }
    socket.onmessage = (event) => {
      if (socket !== this.socket) return
      this.lastHeard = this.o.now()
      this.lastHeardAt = Date.now()
      const message = parse(event.data)
      if (message) this.o.onMessage(message)
    }
    socket.onclose = (event) => {
      if (socket !== this.socket) return
      this.socket = null
      this.stopHeartbeat()
      void this.handleClose(event.code)
    }
  }

  private async handleClose(code: number): Promise<void> {
    if (this.stopped) return
    const lived = this.openedAt === null ? 0 : this.o.now() - this.openedAt
    if (lived >= this.o.stableMs) {
      this.attempts = 0
      this.authRefusals = 0
    }
    if (code === CLOSE_FORBIDDEN) {
      this.giveUp('removed')
      return
    }
    if (code === CLOSE_UNAUTHORIZED) {
      // Once is normal (the token expired while connected); twice in a row means the
      // server refuses even a freshly rotated token.
      this.authRefusals += 1
      if (this.authRefusals >= 2) {
        this.giveUp('expired')
        return
      }
      const outcome = await this.o.reauthenticate()
      if (this.stopped) return
      if (outcome === 'failed') {
        this.giveUp('expired')
        return
      }
      if (outcome === 'ok') {
        void this.connect()
        return
      }
    } else if (this.openedAt === null) {
      this.failedOpens += 1
      if (this.failedOpens === 2) {
        await this.o.checkSession()
        if (this.stopped) return
      }
    }
    this.schedule()
  }

  private schedule(): void {
    const ceiling = Math.min(this.o.maxDelayMs, this.o.initialDelayMs * 2 ** this.attempts)
    // "Equal jitter": never sooner than half the ceiling, so a crowd of clients spreads out.
    const delay = ceiling / 2 + (this.o.random() * ceiling) / 2
    this.attempts += 1
    this.setStatus('reconnecting')
    this.timer = this.o.setTimer(() => void this.connect(), delay)
  }

  private giveUp(reason: 'expired' | 'removed'): void {
    this.stop()
    this.o.onAuthFailure(reason)
  }

  private startHeartbeat(socket: SocketLike): void {
    this.stopHeartbeat()
    const every = this.o.heartbeatMs
    if (every <= 0) return
    const beat = () => {
      if (socket !== this.socket) return
      if (this.o.now() - this.lastHeard > every * 2.5) {
        // Silence: treat as a drop (the close event may never come for a dead link).
        socket.onclose = null
        socket.close(4000, 'heartbeat timeout')
        this.socket = null
        void this.handleClose(1006)
        return
      }
      this.send({ type: 'ping' })
      this.heartbeat = this.o.setTimer(beat, every)
    }
    this.heartbeat = this.o.setTimer(beat, every)
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) this.o.clearTimer(this.heartbeat)
    this.heartbeat = null
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.o.clearTimer(this.timer)
    this.timer = null
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.status) return
    this.status = status
    this.o.onStatus?.(status)
  }
}

function parse(data: unknown): ServerMessage | null {
  if (typeof data !== 'string') return null
  try {
    const value = JSON.parse(data) as unknown
    if (value && typeof value === 'object' && typeof (value as ServerMessage).type === 'string') {
      return value as ServerMessage
    }
  } catch {
    // A frame we cannot read is ignored, never fatal.
  }
  return null
}
