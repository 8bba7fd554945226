import { beforeEach, describe, expect, it } from 'vitest'
import { FakeSocket, flush } from '../test/fakes'
import { RealtimeSocket, type ConnectionStatus, type RealtimeOptions } from './socket'

interface Timer {
  fn: () => void
  ms: number
  id: number
}

function setup(overrides: Partial<RealtimeOptions> = {}) {
  const timers: Timer[] = []
  let nextId = 1
  let now = 0
  const events = {
    messages: [] as unknown[],
    statuses: [] as ConnectionStatus[],
    authFailures: [] as string[],
    resyncs: 0,
    checks: 0,
    reauths: 0,
  }
  const socket = new RealtimeSocket({
    url: (token) => `ws://test/ws?token=${token}`,
    getToken: async () => 'T1',
    reauthenticate: async () => {
      events.reauths++
      return 'ok'
    },
    checkSession: async () => {
      events.checks++
    },
    onAuthFailure: (reason) => events.authFailures.push(reason),
    onMessage: (m) => events.messages.push(m),
    onStatus: (s) => events.statuses.push(s),
    onResync: () => events.resyncs++,
    createSocket: (url) => new FakeSocket(url),
    random: () => 0.5,
    now: () => now,
    heartbeatMs: 0,
    setTimer: (fn, ms) => {
      const t = { fn, ms, id: nextId++ }
      timers.push(t)
      return t.id
    },
    clearTimer: (id) => {
      const i = timers.findIndex((t) => t.id === id)
      if (i >= 0) timers.splice(i, 1)
    },
    ...overrides,
  })
  const fire = async () => {
    const t = timers.shift()
    if (!t) throw new Error('no timer pending')
    t.fn()
    await flush()
    return t.ms
  }
  return { socket, timers, events, fire, advance: (ms: number) => (now += ms) }
}

beforeEach(() => {
  FakeSocket.instances = []
})

describe('RealtimeSocket', () => {
  it('connects with the token and passes JSON messages on', async () => {
    const { socket, events } = setup()
    socket.start()
    await flush()
    const ws = FakeSocket.last()
    expect(ws.url).toBe('ws://test/ws?token=T1')
    ws.open()
    ws.receive({ type: 'consumption.updated', device_id: 'd1', hour: '2026-01-01T10:00:00Z', kwh: 1.5 })
    ws.receive('not json')
    ws.receive({ no: 'type' })
    expect(events.messages).toEqual([{ type: 'consumption.updated', device_id: 'd1', hour: '2026-01-01T10:00:00Z', kwh: 1.5 }])
    expect(events.statuses).toEqual(['connecting', 'open'])
  })

  it('reconnects with growing, capped backoff and asks for a resync once back', async () => {
    const { socket, events, fire } = setup({ initialDelayMs: 1000, maxDelayMs: 4000 })
    socket.start()
    await flush()
    FakeSocket.last().open()
    const delays: number[] = []
    for (let i = 0; i < 4; i++) {
      FakeSocket.last().serverClose(1006)
      await flush()
      delays.push(await fire())
    }
    // Equal jitter with random() = 0.5: three quarters of the ceiling 1s, 2s, 4s, 4s.
    expect(delays).toEqual([750, 1500, 3000, 3000])
    FakeSocket.last().open()
    expect(events.resyncs).toBe(1)
    expect(FakeSocket.instances).toHaveLength(5)
  })

  it('asks the server to replay what was missed while away', async () => {
    const { socket, fire } = setup()
    socket.start()
    await flush()
    FakeSocket.last().open()
    const before = Date.now()
    FakeSocket.last().receive({ type: 'welcome' })
    FakeSocket.last().serverClose(1012)
    await flush()
    await fire()
    FakeSocket.last().open()
    const resume = JSON.parse(FakeSocket.last().sent[0])
    expect(resume.type).toBe('resume')
    expect(Date.parse(resume.since)).toBeLessThanOrEqual(before - 30_000 + 1000)
    expect(Date.parse(resume.since)).toBeGreaterThan(before - 31_000)
  })

  it('resets the backoff after a connection that stayed up', async () => {
    const { socket, fire, advance } = setup({ initialDelayMs: 1000, stableMs: 5000 })
    socket.start()
    await flush()
    FakeSocket.last().open()
    FakeSocket.last().serverClose(1006)
    await flush()
    await fire()
    FakeSocket.last().open()
    advance(6000)
    FakeSocket.last().serverClose(1012)
    await flush()
    expect(await fire()).toBe(750)
  })

  it('after a 4401 rotates the token and reconnects at once', async () => {
    let token = 'T1'
    const { socket, events, timers } = setup({
      getToken: async () => token,
      reauthenticate: async () => {
        token = 'T2'
        return 'ok'
      },
    })
    socket.start()
    await flush()
    FakeSocket.last().open()
    FakeSocket.last().serverClose(4401)
    await flush()
    expect(timers).toHaveLength(0)
    expect(FakeSocket.last().url).toBe('ws://test/ws?token=T2')
    expect(events.authFailures).toEqual([])
  })

  it('logs out when a freshly rotated token is refused too', async () => {
    const { socket, events } = setup()
    socket.start()
    await flush()
    FakeSocket.last().open()
    FakeSocket.last().serverClose(4401)
    await flush()
    FakeSocket.last().serverClose(4401)
    await flush()
    expect(events.reauths).toBe(1)
    expect(events.authFailures).toEqual(['expired'])
    expect(FakeSocket.instances).toHaveLength(2)
    expect(socket.connectionStatus).toBe('stopped')
  })

  it('logs out when the refresh itself is refused after a 4401', async () => {
    const { socket, events } = setup({ reauthenticate: async () => 'failed' })
    socket.start()
    await flush()
    FakeSocket.last().open()
    FakeSocket.last().serverClose(4401)
    await flush()
    expect(events.authFailures).toEqual(['expired'])
  })

  it('logs out at once when the account is gone (4403)', async () => {
    const { socket, events, timers } = setup()
    socket.start()
    await flush()
    FakeSocket.last().open()
    FakeSocket.last().serverClose(4403)
    await flush()
    expect(events.authFailures).toEqual(['removed'])
    expect(timers).toHaveLength(0)
  })

  it('checks the session over REST when handshakes keep failing', async () => {
    const { socket, events, fire } = setup()
    socket.start()
    await flush()
    FakeSocket.last().serverClose(1006)
    await flush()
    expect(events.checks).toBe(0)
    await fire()
    FakeSocket.last().serverClose(1006)
    await flush()
    expect(events.checks).toBe(1)
  })

  it('does not connect without a session', async () => {
    const { socket, events } = setup({ getToken: async () => null })
    socket.start()
    await flush()
    expect(FakeSocket.instances).toHaveLength(0)
    expect(events.authFailures).toEqual(['expired'])
  })

  it('stops cleanly: no reconnect after stop()', async () => {
    const { socket, timers } = setup()
    socket.start()
    await flush()
    const ws = FakeSocket.last()
    ws.open()
    socket.stop()
    expect(ws.closedWith).toBe(1000)
    ws.serverClose(1000)
    await flush()
    expect(timers).toHaveLength(0)
  })

  it('sends only while open, and hands a rotated token to the open socket', async () => {
    const { socket } = setup()
    expect(socket.send({ type: 'chat.typing', typing: true })).toBe(false)
    socket.start()
    await flush()
    FakeSocket.last().open()
    socket.renewToken('T9')
    expect(FakeSocket.last().sent).toEqual(['{"type":"auth","token":"T9"}'])
  })

  it('drops a silent connection after missed heartbeats', async () => {
    const { socket, timers, advance } = setup({ heartbeatMs: 1000 })
    socket.start()
    await flush()
    const ws = FakeSocket.last()
    ws.open()
    advance(1000)
    timers.shift()!.fn()
    expect(ws.sent).toEqual(['{"type":"ping"}'])
    advance(2000)
    timers.shift()!.fn()
    await flush()
    expect(ws.closedWith).toBe(4000)
    expect(timers.some((t) => t.ms > 0)).toBe(true) // a reconnect is scheduled
  })

  it('reconnects at once when the browser comes back online', async () => {
    const { socket, timers } = setup()
    socket.start()
    await flush()
    FakeSocket.last().serverClose(1006)
    await flush()
    expect(timers).toHaveLength(1)
    socket.nudge()
    await flush()
    expect(timers).toHaveLength(0)
    expect(FakeSocket.instances).toHaveLength(2)
  })
})

