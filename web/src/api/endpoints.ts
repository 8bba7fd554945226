// Every REST call the app makes, in one place. Shapes follow SPEC §3; where the SPEC leaves
// a detail open (range buckets, CSV, read marks) the services' OpenAPI is the reference.

import type { ApiClient } from './client'
import type {
  Alert,
  Bucket,
  ChatMessage,
  ChatMode,
  Conversation,
  DayConsumption,
  Device,
  DeviceInput,
  Page,
  Role,
  SendResult,
  TokenResponse,
  User,
} from './types'

export interface PageQuery {
  page?: number
  size?: number
  q?: string
}

// --- users -----------------------------------------------------------------------------

export const users = {
  me: (api: ApiClient) => api.get<User>('/api/users/me'),
  list: (api: ApiClient, query: PageQuery & { role?: Role }, signal?: AbortSignal) =>
    api.get<Page<User>>('/api/users', { ...query }, signal),
  get: (api: ApiClient, id: string) => api.get<User>(`/api/users/${id}`),
  create: (
    api: ApiClient,
    body: { username: string; password: string; role: Role; full_name: string | null; email: string | null },
  ) => api.post<User>('/api/users', body),
  update: (
    api: ApiClient,
    id: string,
    body: Partial<{ full_name: string | null; email: string | null; role: Role }>,
  ) => api.patch<User>(`/api/users/${id}`, body),
  remove: (api: ApiClient, id: string) => api.delete(`/api/users/${id}`),
  /** The server ends every other session and hands this one fresh tokens. */
  changePassword: async (api: ApiClient, oldPassword: string, newPassword: string) => {
    const tokens = await api.post<TokenResponse | undefined>('/api/auth/password', {
      old_password: oldPassword,
      new_password: newPassword,
    })
    if (tokens?.access_token) api.adoptTokens(tokens)
  },
}

// --- devices ---------------------------------------------------------------------------

export const devices = {
  list: (api: ApiClient, query: PageQuery = {}, signal?: AbortSignal) =>
    api.get<Page<Device>>('/api/devices', { ...query }, signal),
  /** Every device the caller may see (a client's own; for admins, all), page by page. */
  all: async (api: ApiClient, signal?: AbortSignal): Promise<Device[]> => {
    const size = 100
    const first = await devices.list(api, { page: 1, size }, signal)
    const items = [...first.items]
    const pages = Math.ceil(first.total / size)
    for (let page = 2; page <= pages && page <= 50; page++) {
      items.push(...(await devices.list(api, { page, size }, signal)).items)
    }
    return items
  },
  ofUser: async (api: ApiClient, userId: string, signal?: AbortSignal): Promise<Device[]> =>
    itemsOf(await api.get<Page<Device> | Device[]>(`/api/devices/user/${userId}`, { size: 100 }, signal)),
  create: (api: ApiClient, body: DeviceInput) => api.post<Device>('/api/devices', body),
  update: (api: ApiClient, id: string, body: Partial<DeviceInput>) =>
    api.patch<Device>(`/api/devices/${id}`, body),
  remove: (api: ApiClient, id: string) => api.delete(`/api/devices/${id}`),
}

// --- consumption -----------------------------------------------------------------------

export const consumption = {
  day: (api: ApiClient, deviceId: string, date: string, signal?: AbortSignal) =>
    api.get<DayConsumption>('/api/consumption/day', { device_id: deviceId, date }, signal),
  /** Daily totals from `start` to `end` (inclusive), one bucket per day. */
  daily: async (
    api: ApiClient,
    deviceId: string,
    start: string,
    end: string,
    signal?: AbortSignal,
  ): Promise<Bucket[]> =>
    bucketsOf(
      await api.get<unknown>(
        '/api/consumption/range',
        { device_id: deviceId, start, end, bucket: 'day' },
        signal,
      ),
    ),
  /** The server's CSV export; without a device, every device the caller may see. */
  csv: (api: ApiClient, deviceId: string | undefined, start: string, end: string, bucket: 'hour' | 'day') =>
    api.request<Blob>('GET', '/api/consumption/export.csv', {
      query: { device_id: deviceId, start, end, bucket },
      accept: 'blob',
    }),
  alerts: (api: ApiClient, query: PageQuery & { device_id?: string }, signal?: AbortSignal) =>
    api.get<Page<Alert>>('/api/consumption/alerts', { ...query }, signal),
}

// --- support ---------------------------------------------------------------------------

export const support = {
  send: (api: ApiClient, text: string, mode: ChatMode) =>
    api.post<SendResult>('/api/support/messages', { text, mode }),
  /** The latest 200 messages of a conversation, oldest first (own; an admin passes the client's id). */
  history: async (api: ApiClient, userId?: string, signal?: AbortSignal): Promise<ChatMessage[]> => {
    const body = await api.get<Page<ChatMessage> | ChatMessage[]>(
      '/api/support/history',
      { user_id: userId, size: 200, order: 'desc' },
      signal,
    )
    return sortMessages(itemsOf(body))
  },
  /** The caller's own conversation summary (null before the first message). */
  own: (api: ApiClient) => api.get<Conversation | null>('/api/support/conversations/me'),
  conversations: (api: ApiClient, query: PageQuery & { unread_only?: boolean } = {}, signal?: AbortSignal) =>
    api.get<Page<Conversation>>('/api/support/conversations', { ...query }, signal),
  reply: (api: ApiClient, userId: string, text: string) =>
    api.post<ChatMessage>('/api/support/admin/reply', { user_id: userId, text }),
  /** Mark a conversation read on the caller's side (admins: any client's; clients: their own). */
  markRead: (api: ApiClient, userId: string) =>
    api.post<void>(`/api/support/conversations/${userId}/read`),
}

// --- shape helpers ---------------------------------------------------------------------

export function itemsOf<T>(body: Page<T> | T[] | null | undefined): T[] {
  if (Array.isArray(body)) return body
  return body?.items ?? []
}

export function sortMessages(messages: ChatMessage[]): ChatMessage[] {
  return [...messages].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id))
}

/**
 * A range response as buckets, whichever list and key names it uses
 * (`points`/`items`/`buckets`/`days`/`hours`, `start`/`day`/`date`/`hour`).
 */
export function bucketsOf(body: unknown): Bucket[] {
  const record = (body ?? {}) as Record<string, unknown>
  const list = Array.isArray(body)
    ? body
    : ((['points', 'items', 'buckets', 'days', 'hours'] as const)
        .map((key) => record[key])
        .find((value) => Array.isArray(value)) as unknown[] | undefined) ?? []
  return list.flatMap((raw) => {
    const item = raw as Record<string, unknown>
    const start = ['start', 'day', 'date', 'hour', 'bucket'].map((k) => item[k]).find((v) => typeof v === 'string')
    const kwh = Number(item.kwh ?? item.total_kwh ?? item.value)
    return typeof start === 'string' && Number.isFinite(kwh) ? [{ start, kwh }] : []
  })
}
