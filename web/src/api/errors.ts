// The platform's one error shape, `{"error": {"code", "message", "details"}}`, turned into an
// exception the UI can show: a sentence for the form and, for 422s, a message per field.

export interface ValidationIssue {
  loc?: (string | number)[]
  msg?: string
  type?: string
}

export type FieldErrors = Record<string, string>

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: unknown
  readonly fieldErrors: FieldErrors
  /** Seconds the server asked us to wait (429), when it said. */
  readonly retryAfter: number | null

  constructor(
    status: number,
    code: string,
    message: string,
    details: unknown = null,
    retryAfter: number | null = null,
  ) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details
    const fields = fieldErrorsFrom(details)
    for (const key of Object.keys(fields)) if (!fields[key]) fields[key] = message
    this.fieldErrors = fields
    this.retryAfter = retryAfter
  }

  get isNetwork(): boolean {
    return this.status === 0
  }
}

export function networkError(): ApiError {
  return new ApiError(0, 'network', "Can't reach the server. Check your connection and try again.")
}

/** Build an ApiError from a failed response, whatever its body turned out to be. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const retryHeader = response.headers.get('Retry-After')
  const retryAfter = retryHeader && /^\d+$/.test(retryHeader) ? Number(retryHeader) : null
  let body: unknown = null
  try {
    body = await response.json()
  } catch {
    body = null
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error
  const code = typeof error?.code === 'string' ? error.code : `http_${response.status}`
  const serverMessage = typeof error?.message === 'string' ? error.message : ''
  return new ApiError(
    response.status,
    code,
    friendlyMessage(response.status, serverMessage, retryAfter),
    error?.details ?? null,
    retryAfter,
  )
}

function friendlyMessage(status: number, serverMessage: string, retryAfter: number | null): string {
  if (status === 429) {
    const wait = retryAfter ? ` Try again in ${retryAfter} s.` : ' Try again in a moment.'
    return `Too many attempts.${wait}`
  }
  if (status >= 500) return 'Something went wrong on our side. Please try again.'
  if (status === 422 && (!serverMessage || serverMessage === 'the request is not valid')) {
    return 'Please correct the highlighted fields.'
  }
  if (serverMessage) return capitalize(serverMessage)
  if (status === 404) return 'Not found.'
  if (status === 403) return "You don't have access to this."
  return `The request failed (${status}).`
}

function capitalize(text: string): string {
  const sentence = text.charAt(0).toUpperCase() + text.slice(1)
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`
}

/**
 * 422 details `[{loc: ["body", "email"], msg}]` → `{email: "..."}`. The first message per field
 * wins; pydantic's "Value error, " prefix is dropped because users never need it.
 */
export function fieldErrorsFrom(details: unknown): FieldErrors {
  const fields: FieldErrors = {}
  // One field named by the service itself: `{"field": "old_password"}` with the message.
  if (details && typeof details === 'object' && !Array.isArray(details)) {
    const field = (details as { field?: unknown }).field
    const message = (details as { message?: unknown }).message
    if (typeof field === 'string') fields[field] = typeof message === 'string' ? tidyMessage(message) : ''
    return fields
  }
  if (!Array.isArray(details)) return fields
  for (const issue of details as ValidationIssue[]) {
    if (!issue || !Array.isArray(issue.loc) || typeof issue.msg !== 'string') continue
    const path = issue.loc.filter((part) => part !== 'body' && part !== 'query' && part !== 'path')
    const field = path.length > 0 ? String(path[0]) : '_'
    if (!(field in fields)) fields[field] = tidyMessage(issue.msg)
  }
  return fields
}

function tidyMessage(msg: string): string {
  const text = msg.replace(/^Value error, /, '')
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/** A sentence for any error the UI caught. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message
  if (error instanceof Error && error.message) return error.message
  return 'Something went wrong. Please try again.'
}
