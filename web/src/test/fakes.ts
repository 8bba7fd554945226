// Test doubles: a scripted fetch and a controllable WebSocket.

import type { Device, TokenResponse } from '../api/types'

export interface Call {
  method: string
  url: string
  headers: Record<string, string>
  body: unknown
}

type Responder = (call: Call) => Response | Promise<Response>

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  })
}

export function tokens(access: string, refresh: string, expiresIn = 600): TokenResponse {
  return {
    access_token: access,
    token_type: 'bearer',
    expires_in: expiresIn,
    refresh_token: refresh,
    user: { id: 'u1', username: 'ann', role: 'CLIENT' },
  }
}

/** A fetch that answers from a list of routes ("POST /api/auth/refresh") and records calls. */
export function scriptedFetch(routes: Record<string, Responder | Responder[]>) {
  const calls: Call[] = []
  const queues = new Map(Object.entries(routes).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]))
  const fetchImpl = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input)
    const method = init.method ?? 'GET'
    const headers = (init.headers ?? {}) as Record<string, string>
    const call: Call = { method, url, headers, body: init.body ? JSON.parse(String(init.body)) : undefined }
    calls.push(call)
    const key = `${method} ${url.split('?')[0]}`
    const entry = queues.get(key)
    if (!entry) throw new Error(`unexpected request ${key}`)
    const responder = Array.isArray(entry) ? (entry.length > 1 ? entry.shift()! : entry[0]) : entry
    return responder(call)
  }
  return { fetch: fetchImpl as typeof fetch, calls }
}

export class FakeSocket {
  static instances: FakeSocket[] = []
  readyState = 0
  url: string
  sent: string[] = []
  closedWith: number | null = null
  onopen: ((event: Event) => void) | null = null
  onclose: ((event: CloseEvent) => void) | null = null
  onmessage: ((event: MessageEvent) => void) | null = null
  onerror: ((event: Event) => void) | null = null

  constructor(url: string) {
    this.url = url
    FakeSocket.instances.push(this)
  }

  send(data: string) {
    this.sent.push(data)
  }

  close(code = 1000) {
    this.closedWith = code
    this.readyState = 3
  }

  // --- driven by the test ---
  open() {
    this.readyState = 1
    this.onopen?.(new Event('open'))
  }

  receive(data: unknown) {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) } as MessageEvent)
  }

  serverClose(code: number) {
    this.readyState = 3
    this.onclose?.({ code } as CloseEvent)
  }

  static last(): FakeSocket {
    return FakeSocket.instances[FakeSocket.instances.length - 1]
  }
}

/** Let pending promise callbacks run. */
export async function flush(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) await Promise.resolve()
}

/** A device as the devices API returns it (a client's by default), with `more` on top. */
export function testDevice(id: string, name: string, more: Partial<Device> = {}): Device {
  return {
    id,
    name,
    description: null,
    address: null,
    max_hourly_kwh: 2,
    tariff_id: null,
    meter_id: null,
    silence_minutes: 30,
    owner_id: 'client-1',
    status: 'active',
    created_at: '2026-11-01T00:00:00Z',
    updated_at: '2026-11-01T00:00:00Z',
    ...more,
  }
}
