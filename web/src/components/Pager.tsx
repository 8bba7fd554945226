import { Icon } from './Icon'

export function Pager({
  page,
  size,
  total,
  onPage,
  noun = 'items',
}: {
  page: number
  size: number
  total: number
  onPage: (page: number) => void
  noun?: string
}) {
  const pages = Math.max(1, Math.ceil(total / size))
  const first = total === 0 ? 0 : (page - 1) * size + 1
  const last = Math.min(total, page * size)
  return (
    <nav className="pager" aria-label="Pages">
      <span className="pager-info">
        {total === 0 ? `No ${noun}` : `${first}–${last} of ${total} ${noun}`}
      </span>
      <div className="pager-buttons">
        <button type="button" className="btn btn-sm" disabled={page <= 1} onClick={() => onPage(page - 1)}>
          <Icon name="left" /> <span>Previous</span>
        </button>
        <span className="pager-page" aria-current="page">
          Page {page} of {pages}
        </span>
        <button type="button" className="btn btn-sm" disabled={page >= pages} onClick={() => onPage(page + 1)}>
          <span>Next</span> <Icon name="right" />
        </button>
      </div>
    </nav>
  )
}
