// Every REST call the app makes, in one place. Paths, query parameters and shapes are typed
// from the services' OpenAPI (./types.ts), so a server change that breaks a call breaks the build.

import { mergeMessages } from '../lib/chat'
import type { ApiClient } from './client'
import type {
  AlertPage,
  ApiQuery,
  Bucket,
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

export const consumption = {
  day: (api: ApiClient, deviceId: string, date: string, signal?: AbortSignal) =>
    api.get<DayConsumption>('/api/consumption/day', { device_id: deviceId, date }, signal),
  /** Daily totals from `start` to `end` (inclusive), one bucket per day. */
  daily: async (api: ApiClient, deviceId: string, start: string, end: string, signal?: AbortSignal): Promise<Bucket[]> =>
    (
      await api.get<RangeConsumption>(
        '/api/consumption/range',
        { device_id: deviceId, start, end, bucket: 'day' } satisfies ApiQuery<'/api/consumption/range'>,
        signal,
      )
    ).points,
  /** The server's CSV export; without a device, every device the caller may see. */
  csv: (api: ApiClient, deviceId: string | undefined, start: string, end: string, bucket: 'hour' | 'day') =>
    api.request<Blob>('GET', '/api/consumption/export.csv', {
      query: { device_id: deviceId, start, end, bucket } satisfies ApiQuery<'/api/consumption/export.csv'>,
      accept: 'blob',
    }),
  alerts: (api: ApiClient, query: ApiQuery<'/api/consumption/alerts'>, signal?: AbortSignal) =>
    api.get<AlertPage>('/api/consumption/alerts', { ...query }, signal),
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
