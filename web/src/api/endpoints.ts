// Every REST call the app makes, in one place. Paths, query parameters and shapes are typed
// from the services' OpenAPI (./types.ts), so a server change that breaks a call breaks the build.

import { mergeMessages } from '../lib/chat'
import type { ApiClient } from './client'
import type {
  Alert,
  AlertKind,
  AlertPage,
  ApiQuery,
  Comparison,
  ComparePeriod,
  ChatMessage,
  ChatMode,
  Conversation,
  ConversationPage,
  DayConsumption,
  Device,
  DeviceCreate,
  DevicePage,
  DeviceUpdate,
  MessagePage,
  ProfileUpdate,
  Meter,
  MeterPage,
  MonthToDate,
  Overview,
  RangeConsumption,
  SendResult,
  Tariff,
  TariffCreate,
  TariffPage,
  TariffUpdate,
  TokenResponse,
  User,
  UserCreate,
  UserPage,
  UnreadCount,
  UserUpdate,
} from './types'

// --- users -----------------------------------------------------------------------------

export const users = {
  me: (api: ApiClient) => api.get<User>('/api/users/me'),
  list: (api: ApiClient, query: ApiQuery<'/api/users'>, signal?: AbortSignal) =>
    api.get<UserPage>('/api/users', { ...query }, signal),
  get: (api: ApiClient, id: string) => api.get<User>(`/api/users/${id}`),
  create: (api: ApiClient, body: UserCreate) => api.post<User>('/api/users', body),
  update: (api: ApiClient, id: string, body: UserUpdate) => api.patch<User>(`/api/users/${id}`, body),
  /** The caller's own profile fields (name, email, time zone). */
  updateMe: (api: ApiClient, body: ProfileUpdate) => api.patch<User>('/api/users/me', body),
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
  list: (api: ApiClient, query: ApiQuery<'/api/devices'> = {}, signal?: AbortSignal) =>
    api.get<DevicePage>('/api/devices', { ...query }, signal),
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
    (await api.get<DevicePage>(`/api/devices/user/${userId}`, { size: 100 }, signal)).items,
  create: (api: ApiClient, body: DeviceCreate) => api.post<Device>('/api/devices', body),
  update: (api: ApiClient, id: string, body: DeviceUpdate) => api.patch<Device>(`/api/devices/${id}`, body),
  remove: (api: ApiClient, id: string) => api.delete(`/api/devices/${id}`),
}

// --- tariffs ---------------------------------------------------------------------------

export const tariffs = {
  list: (api: ApiClient, query: ApiQuery<'/api/tariffs'> = {}, signal?: AbortSignal) =>
    api.get<TariffPage>('/api/tariffs', { ...query }, signal),
  /** The first 100 by name: what a picker offers. */
  all: async (api: ApiClient, signal?: AbortSignal): Promise<Tariff[]> =>
    (await tariffs.list(api, { page: 1, size: 100 }, signal)).items,
  create: (api: ApiClient, body: TariffCreate) => api.post<Tariff>('/api/tariffs', body),
  update: (api: ApiClient, id: string, body: TariffUpdate) => api.patch<Tariff>(`/api/tariffs/${id}`, body),
  remove: (api: ApiClient, id: string) => api.delete(`/api/tariffs/${id}`),
}

// --- consumption -----------------------------------------------------------------------

/** What every consumption read takes: one device or all the caller's, and a zone override. */
export interface Selection {
  deviceId?: string
  /** IANA zone; the caller's profile zone when left out. */
  tz?: string
}

export type RangeBucket = 'hour' | 'day' | 'week' | 'month'

export const consumption = {
  day: (api: ApiClient, date: string, { deviceId, tz }: Selection = {}, signal?: AbortSignal) =>
    api.get<DayConsumption>('/api/consumption/day', { device_id: deviceId, date, tz }, signal),
  /** Buckets from `start` to `end` (local dates, inclusive). */
  range: (api: ApiClient, start: string, end: string, bucket: RangeBucket, { deviceId, tz }: Selection = {}, signal?: AbortSignal) =>
    api.get<RangeConsumption>('/api/consumption/range', { device_id: deviceId, start, end, bucket, tz }, signal),
  /** The server's CSV export; without a device, every device the caller may see. */
  csv: (api: ApiClient, start: string, end: string, bucket: RangeBucket, { deviceId, tz }: Selection = {}) =>
    api.request<Blob>('GET', '/api/consumption/export.csv', {
      query: { device_id: deviceId, start, end, bucket, tz },
      accept: 'blob',
    }),
  compare: (api: ApiClient, period: ComparePeriod, date: string, { deviceId, tz }: Selection = {}, signal?: AbortSignal) =>
    api.get<Comparison>('/api/consumption/compare', { period, date, device_id: deviceId, tz }, signal),
  monthToDate: (api: ApiClient, { deviceId, tz }: Selection = {}, signal?: AbortSignal) =>
    api.get<MonthToDate>('/api/consumption/month-to-date', { device_id: deviceId, tz }, signal),
  meters: (api: ApiClient, query: { page?: number; size?: number; q?: string } = {}, signal?: AbortSignal) =>
    api.get<MeterPage>('/api/consumption/meters', { ...query }, signal),
  /** Every meter the caller may see (up to 1,000), by device id. */
  allMeters: async (api: ApiClient, signal?: AbortSignal): Promise<Map<string, Meter>> => {
    const size = 100
    const found = new Map<string, Meter>()
    for (let page = 1; page <= 10; page++) {
      const result = await consumption.meters(api, { page, size }, signal)
      for (const meter of result.items) found.set(meter.device_id, meter)
      if (page * size >= result.total) break
    }
    return found
  },
  overview: (api: ApiClient, signal?: AbortSignal) => api.get<Overview>('/api/consumption/overview', undefined, signal),
}

export interface AlertQuery {
  page?: number
  size?: number
  device_id?: string
  unread?: boolean
  kind?: AlertKind
}

export const alerts = {
  list: (api: ApiClient, query: AlertQuery, signal?: AbortSignal) =>
    api.get<AlertPage>('/api/consumption/alerts', { ...query, unread: query.unread ? 'true' : undefined }, signal),
  unreadCount: async (api: ApiClient, signal?: AbortSignal) =>
    (await api.get<UnreadCount>('/api/consumption/alerts/unread-count', undefined, signal)).count,
  markRead: (api: ApiClient, id: string) => api.post<void>(`/api/consumption/alerts/${id}/read`),
  markAllRead: (api: ApiClient) => api.post<{ marked: number }>('/api/consumption/alerts/read-all'),
  /** An admin acknowledges an alert: who and when is kept on it. */
  acknowledge: (api: ApiClient, id: string) => api.post<Alert>(`/api/consumption/alerts/${id}/ack`),
}

// --- support ---------------------------------------------------------------------------

export const support = {
  send: (api: ApiClient, text: string, mode: ChatMode) =>
    api.post<SendResult>('/api/support/messages', { text, mode }),
  /** The latest 200 messages of a conversation, oldest first (own; an admin passes the client's id). */
  history: async (api: ApiClient, userId?: string, signal?: AbortSignal): Promise<ChatMessage[]> => {
    const query = { user_id: userId, size: 200, order: 'desc' } satisfies ApiQuery<'/api/support/history'>
    return mergeMessages([], (await api.get<MessagePage>('/api/support/history', query, signal)).items)
  },
  /** The caller's own conversation summary (null before the first message). */
  own: (api: ApiClient) => api.get<Conversation | null>('/api/support/conversations/me'),
  conversations: (api: ApiClient, query: ApiQuery<'/api/support/conversations'> = {}, signal?: AbortSignal) =>
    api.get<ConversationPage>('/api/support/conversations', { ...query }, signal),
  reply: (api: ApiClient, userId: string, text: string) =>
    api.post<ChatMessage>('/api/support/admin/reply', { user_id: userId, text }),
  /** Mark a conversation read on the caller's side (admins: any client's; clients: their own). */
  markRead: (api: ApiClient, userId: string) =>
    api.post<void>(`/api/support/conversations/${userId}/read`),
}
