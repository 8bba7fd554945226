import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/errors'
import { serverFieldErrors } from '../hooks/useForm'
import {
  currencyCode,
  matches,
  nonNegativeNumber,
  optionalEmail,
  optionalMeterId,
  optionalSilenceMinutes,
  optionalText,
  password,
  positiveNumber,
  required,
  username,
  validate,
} from './validation'

describe('validators', () => {
  it('checks usernames like the server does', () => {
    expect(username('ab')).toMatch(/at least 3/)
    expect(username('ann marie')).toMatch(/letters, digits/)
    expect(username('ann.marie-2_x')).toBeNull()
    expect(username('  ')).toBe('Username is required.')
  })

  it('checks passwords and emails', () => {
    expect(password('short')).toMatch(/at least 8/)
    expect(password('long enough')).toBeNull()
    expect(optionalEmail('')).toBeNull()
    expect(optionalEmail('a@b')).toMatch(/valid email/)
    expect(optionalEmail('ann@example.com')).toBeNull()
  })

  it('wants a positive number for limits', () => {
    expect(positiveNumber('Limit')('0')).toMatch(/greater than 0/)
    expect(positiveNumber('Limit')('-1')).toMatch(/greater than 0/)
    expect(positiveNumber('Limit')('abc')).toMatch(/a number/)
    expect(positiveNumber('Limit')('')).toMatch(/required/)
    expect(positiveNumber('Limit')('2.5')).toBeNull()
  })

  it('checks prices, currencies, meter ids and silence limits like the server does', () => {
    expect(nonNegativeNumber('Price')('0')).toBeNull()
    expect(nonNegativeNumber('Price')('-0.1')).toMatch(/negative/)
    expect(nonNegativeNumber('Price')('')).toMatch(/required/)
    expect(currencyCode('RON')).toBeNull()
    expect(currencyCode('ron')).toMatch(/three-letter/)
    expect(currencyCode('EURO')).toMatch(/three-letter/)
    expect(optionalMeterId('')).toBeNull()
    expect(optionalMeterId('meter_7-b')).toBeNull()
    expect(optionalMeterId('meter.7')).toMatch(/letters, digits/)
    expect(optionalMeterId('x'.repeat(65))).toMatch(/64/)
    expect(optionalSilenceMinutes('')).toBeNull()
    expect(optionalSilenceMinutes('1')).toBeNull()
    expect(optionalSilenceMinutes('10080')).toBeNull()
    expect(optionalSilenceMinutes('0')).toMatch(/1 to 10080/)
    expect(optionalSilenceMinutes('10081')).toMatch(/1 to 10080/)
    expect(optionalSilenceMinutes('1.5')).toMatch(/whole minutes/)
  })

  it('reports the first failure per field', () => {
    const values = { name: '', pw: 'abcdefgh', again: 'abcdefgX' }
    expect(
      validate(values, {
        name: [required('Name')],
        pw: [password],
        again: [matches(() => values.pw, 'The passwords do not match.')],
      }),
    ).toEqual({ name: 'Name is required.', again: 'The passwords do not match.' })
  })

  it('turns blank optional text into null', () => {
    expect(optionalText('  ')).toBeNull()
    expect(optionalText(' Ann ')).toBe('Ann')
  })
})

describe('server errors on form fields', () => {
  it('places a 409 on the field its message names', () => {
    const error = new ApiError(409, 'conflict', 'Username already taken.')
    expect(serverFieldErrors(error, ['username', 'email'])).toEqual({ username: 'Username already taken.' })
    const email = new ApiError(409, 'conflict', 'Email already in use.')
    expect(serverFieldErrors(email, ['username', 'email'])).toEqual({ email: 'Email already in use.' })
  })

  it("uses the field the server names in a 409's details", () => {
    const error = new ApiError(409, 'conflict', 'Email is already taken.', { field: 'email' })
    expect(serverFieldErrors(error, ['username', 'email'])).toEqual({ email: 'Email is already taken.' })
  })

  it('leaves other errors for the form as a whole', () => {
    expect(serverFieldErrors(new ApiError(500, 'x', 'boom'), ['username'])).toEqual({})
  })
})
