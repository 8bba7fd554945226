// The REST shapes of SPEC §3, as the server sends them (snake_case).

export type Role = 'ADMIN' | 'CLIENT'

export interface UserRef {
  id: string
  username: string
  role: Role
}

export interface TokenResponse {
  access_token: string
  token_type: 'bearer'
  expires_in: number
  refresh_token: string
  user: UserRef
}

export interface User extends UserRef {
  full_name: string | null
  email: string | null
  created_at?: string
  updated_at?: string
}

export interface Page<T> {
  items: T[]
  total: number
  page: number
  size: number
}

export interface Device {
  id: string
  name: string
  description: string | null
  address: string | null
  max_hourly_kwh: number
  owner_id: string | null
  status?: string
  created_at?: string
  updated_at?: string
}

export interface DeviceInput {
  name: string
  description: string | null
  address: string | null
  max_hourly_kwh: number
  owner_id: string | null
}

export interface HourValue {
  hour: string
  kwh: number
}

export interface DayConsumption {
  device_id: string
  date: string
  unit: 'kWh'
  hours: HourValue[]
  total_kwh: number
}

/** One bucket of a range: its start (a day or an hour, ISO) and its kWh. */
export interface Bucket {
  start: string
  kwh: number
}

export interface Alert {
  id: string
  device_id: string
  device_name?: string | null
  kind: 'hourly' | 'reading'
  hour: string
  kwh: number
  limit_kwh: number
  created_at: string
}

export type Sender = 'user' | 'bot' | 'ai' | 'admin'

export interface ChatMessage {
  id: string
  user_id: string
  sender: Sender
  text: string
  created_at: string
}

export type ChatMode = 'bot' | 'admin'

export interface SendResult {
  message: ChatMessage
  reply: ChatMessage | null
}

export interface Conversation {
  user_id: string
  username: string
  /** The last message's text, who sent it and when. */
  last_message: string
  last_sender: Sender
  last_message_at: string
  /** Client messages no admin has read. */
  unread_count: number
  /** Support messages the client has not read. */
  unread_for_user: number
}
