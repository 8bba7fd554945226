import { useCallback, useEffect, useRef, useState, type DependencyList } from 'react'

export interface AsyncState<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  reload: () => void
  setData: (update: T | ((current: T | undefined) => T | undefined)) => void
}

/**
 * Load data for a view, again whenever `deps` change; a newer load cancels an older one so a
 * slow answer never overwrites a fresh one. `reload()` keeps showing the current data while
 * it fetches (no flash of a spinner on live refreshes).
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): AsyncState<T> {
  const [data, setDataState] = useState<T | undefined>(undefined)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(true)
  const [generation, setGeneration] = useState(0)
  const loadRef = useRef(load)
  loadRef.current = load
  const lastDeps = useRef<DependencyList | null>(null)

  useEffect(() => {
    const controller = new AbortController()
    const depsChanged = lastDeps.current === null || !sameDeps(lastDeps.current, deps)
    lastDeps.current = deps
    if (depsChanged) setDataState(undefined)
    setLoading(true)
    setError(null)
    loadRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return
        setDataState(value)
        setLoading(false)
      },
      (reason: unknown) => {
        if (controller.signal.aborted) return
        setError(reason)
        setLoading(false)
      },
    )
    return () => controller.abort()
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, generation])

  const reload = useCallback(() => setGeneration((g) => g + 1), [])
  const setData = useCallback((update: T | ((current: T | undefined) => T | undefined)) => {
    setDataState((current) =>
      typeof update === 'function' ? (update as (c: T | undefined) => T | undefined)(current) : update,
    )
  }, [])
  return { data, error, loading, reload, setData }
}

function sameDeps(a: DependencyList, b: DependencyList): boolean {
  return a.length === b.length && a.every((value, i) => Object.is(value, b[i]))
}

export function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delayMs)
    return () => clearTimeout(timer)
  }, [value, delayMs])
  return debounced
}
