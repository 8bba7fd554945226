// Friendly names for the REST shapes. The shapes themselves are generated from the services'
// OpenAPI into ./generated (`make api-types`): a schema changed on the server changes them, and
// `make test` fails until they are regenerated, so nothing here is written by hand.

import type { components, paths } from './generated/api'

type Schemas = components['schemas']

/** Every path the services document, e.g. `/api/users/{user_id}`. */
export type ApiPath = keyof paths

/** A URL of a documented path with its `{parameters}` filled: `/api/users/${string}`. */
export type ApiUrl = Filled<ApiPath>
type Filled<P extends string> = P extends `${infer Head}{${string}}${infer Tail}` ? `${Head}${string}${Filled<Tail>}` : P

/** The query parameters a documented GET takes, e.g. `ApiQuery<'/api/users'>`. */
export type ApiQuery<P extends ApiPath> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never

// --- auth
export type UserRef = Schemas['UserRef']
export type Role = UserRef['role']
export type TokenResponse = Schemas['TokenResponse']
export type RegisterRequest = Schemas['RegisterRequest']

// --- users
export type User = Schemas['UserRead']
export type UserPage = Schemas['UserPage']
export type UserCreate = Schemas['UserCreate']
export type UserUpdate = Schemas['UserUpdate']
export type ProfileUpdate = Schemas['ProfileUpdate']

// --- devices
export type Device = Schemas['DeviceRead']
export type DevicePage = Schemas['DevicePage']
export type DeviceCreate = Schemas['DeviceCreate']
export type DeviceUpdate = Schemas['DeviceUpdate']

// --- tariffs
export type Tariff = Schemas['TariffRead']
export type TariffPage = Schemas['TariffPage']
export type TariffCreate = Schemas['TariffCreate']
export type TariffUpdate = Schemas['TariffUpdate']
/** A price for part of the day: `start` up to `end` ("HH:MM"), wrapping midnight when start > end. */
export type TariffBand = Schemas['TariffBand']

// --- consumption (in the caller's zone: hours and buckets carry their UTC offset)
export type DayConsumption = Schemas['DayConsumption']
export type HourValue = Schemas['HourValue']
export type RangeConsumption = Schemas['RangeConsumption']
/** One bucket of a range: its local start (ISO with offset), kWh and cost. */
export type Bucket = Schemas['RangePoint']
export type Comparison = Schemas['Comparison']
export type ComparePeriod = Comparison['period']
/** One period of a comparison: local dates, `end` exclusive. */
export type PeriodFigures = Schemas['PeriodFigures']
export type MonthToDate = Schemas['MonthToDate']

// --- alerts (read state per user, silent meters), meters and the admins' overview
export type Alert = Schemas['AlertRead']
export type AlertKind = Alert['kind']
export type AlertPage = Schemas['AlertPage']
export type UnreadCount = Schemas['UnreadCount']
export type Meter = Schemas['MeterItem']
export type MeterPage = Schemas['MeterPage']
export type Overview = Schemas['Overview']

// --- support chat
export type ChatMessage = Schemas['MessageRead']
export type MessagePage = Schemas['MessagePage']
export type Sender = ChatMessage['sender']
export type ChatMode = NonNullable<Schemas['MessageCreate']['mode']>
export type SendResult = Schemas['ExchangeRead']
/** A conversation: its last message (text, sender, time) and the unread counts of both sides. */
export type Conversation = Schemas['ConversationRead']
export type ConversationPage = Schemas['ConversationPage']

// --- presence
export type OnlineUser = Schemas['OnlineUser']
