import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/errors'
import { bandRow, checkBands, formatPrice, splitBandErrors, toBands, wrapsMidnight } from './tariffs'

const row = (start: string, end: string, price: string) => ({ ...bandRow(), start, end, price })

describe('tariff bands', () => {
  it('checks each band’s fields and says which one is wrong', () => {
    expect(checkBands([row('22:00', '06:00', '0.35'), row('06:00', '22:00', '0')])).toEqual({})
    expect(checkBands([row('24:00', '7:00', 'x'), row('', '08:00', '-1'), row('10:00', '10:00', '1')])).toEqual({
      '0.start': 'Use HH:MM, from 00:00 to 23:59.',
      '0.end': 'Use HH:MM, from 00:00 to 23:59.',
      '0.price_per_kwh': 'Enter a price.',
      '1.start': 'Required.',
      '1.price_per_kwh': 'A price cannot be negative.',
      '2': 'Start and end must differ.',
    })
  })

  it('turns rows into the API’s bands and knows which wrap midnight', () => {
    expect(toBands([row(' 22:00', '06:00 ', '0.35')])).toEqual([{ start: '22:00', end: '06:00', price_per_kwh: 0.35 }])
    expect(wrapsMidnight({ start: '22:00', end: '06:00' })).toBe(true)
    expect(wrapsMidnight({ start: '18:00', end: '00:00' })).toBe(true)
    expect(wrapsMidnight({ start: '06:00', end: '22:00' })).toBe(false)
    expect(wrapsMidnight({ start: '6', end: '22:00' })).toBe(false)
  })

  it('puts the server’s 422 back on the band, the list, or the other fields', () => {
    const error = new ApiError(422, 'validation_error', 'Please correct the highlighted fields.', [
      { loc: ['body', 'bands'], msg: 'Value error, band 2 (05:00-07:00) overlaps band 1 (22:00-06:00)' },
      { loc: ['body', 'bands', 0, 'start'], msg: 'Value error, use HH:MM, from 00:00 to 23:59' },
      { loc: ['body', 'bands', 1], msg: "Value error, a band's start and end must differ" },
      { loc: ['body', 'currency'], msg: 'Value error, use a three-letter ISO 4217 code such as RON' },
    ])
    const { bands, list, rest } = splitBandErrors(error)
    expect(list).toBe('Band 2 (05:00-07:00) overlaps band 1 (22:00-06:00).')
    expect(bands).toEqual({ '0.start': 'Use HH:MM, from 00:00 to 23:59.', '1': "A band's start and end must differ." })
    expect(rest.fieldErrors).toEqual({ currency: 'Use a three-letter ISO 4217 code such as RON' })
    expect(rest.status).toBe(422)
  })

  it('formats prices with their currency', () => {
    expect(formatPrice(0.35, 'RON')).toBe('0.35 RON')
    expect(formatPrice(1.123456, 'EUR')).toBe('1.123456 EUR')
  })
})
