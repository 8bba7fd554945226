import type { InputHTMLAttributes } from 'react'
import { Icon } from './Icon'

/** A search field with its magnifier (the pickers' and the list pages' look). */
export function SearchBox(input: Omit<InputHTMLAttributes<HTMLInputElement>, 'type'>) {
  return (
    <div className="search">
      <Icon name="search" />
      <input type="search" autoComplete="off" {...input} />
    </div>
  )
}
