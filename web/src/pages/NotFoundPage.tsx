import { Link } from 'react-router-dom'
import { PageHeader } from '../components/Layout'
import { EmptyState } from '../components/States'

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" />
      <div className="card">
        <EmptyState icon="info" title="There is nothing at this address." action={<Link className="btn" to="/">Go to the start page</Link>}>
          The link may be old, or the page may have moved.
        </EmptyState>
      </div>
    </>
  )
}
