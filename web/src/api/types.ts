// Friendly names for the REST shapes. The shapes themselves are generated from the services'
// OpenAPI into ./generated (`make api-types`): a schema changed on the server changes them, and
// `make test` fails until they are regenerated, so nothing here is written by hand.

import type { components as AuthApi, paths as AuthPaths } from './generated/auth'
import type { components as DevicesApi, paths as DevicesPaths } from './generated/devices'
import type { components as MonitoringApi, paths as MonitoringPaths } from './generated/monitoring'
import type { components as RealtimeApi, paths as RealtimePaths } from './generated/realtime'
import type { components as SupportApi, paths as SupportPaths } from './generated/support'
import type { components as UsersApi, paths as UsersPaths } from './generated/users'

type Auth = AuthApi['schemas']
type Users = UsersApi['schemas']
type Devices = DevicesApi['schemas']
type Monitoring = MonitoringApi['schemas']
type Support = SupportApi['schemas']
type Realtime = RealtimeApi['schemas']

type Paths = AuthPaths & UsersPaths & DevicesPaths & MonitoringPaths & SupportPaths & RealtimePaths

/** Every path the services document, e.g. `/api/users/{user_id}`. */
export type ApiPath = keyof Paths

/** A URL of a documented path with its `{parameters}` filled: `/api/users/${string}`. */
export type ApiUrl = Filled<ApiPath>
type Filled<P extends string> = P extends `${infer Head}{${string}}${infer Tail}` ? `${Head}${string}${Filled<Tail>}` : P

/** The query parameters a documented GET takes, e.g. `ApiQuery<'/api/users'>`. */
export type ApiQuery<P extends ApiPath> = Paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never

// --- auth
export type UserRef = Auth['UserRef']
export type Role = UserRef['role']
export type TokenResponse = Auth['TokenResponse']
export type RegisterRequest = Auth['RegisterRequest']

// --- users
export type User = Users['UserRead']
export type UserPage = Users['UserPage']
export type UserCreate = Users['UserCreate']
export type UserChange = Users['UserChange']
export type ProfileChange = Users['ProfileChange']

// --- devices
export type Device = Devices['DeviceRead']
export type DevicePage = Devices['DeviceList']
export type DeviceCreate = Devices['DeviceCreate']
export type DeviceChange = Devices['DeviceChange']

// --- consumption and alerts
export type DayConsumption = Monitoring['DayConsumption']
export type HourValue = Monitoring['HourValue']
export type RangeConsumption = Monitoring['RangeConsumption']
/** One bucket of a range: its start (a day or an hour, ISO) and its kWh. */
export type Bucket = Monitoring['RangePoint']
export type Alert = Monitoring['AlertRead']
export type AlertPage = Monitoring['AlertPage']

// --- support chat
export type ChatMessage = Support['MessageRead']
export type MessagePage = Support['MessagePage']
export type Sender = ChatMessage['sender']
export type ChatMode = NonNullable<Support['MessageCreate']['mode']>
export type SendResult = Support['ExchangeRead']
/** A conversation: its last message (text, sender, time) and the unread counts of both sides. */
export type Conversation = Support['ConversationRead']
export type ConversationPage = Support['ConversationPage']

// --- presence
export type OnlineUser = Realtime['OnlineUser']
