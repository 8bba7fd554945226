import { useEffect, useState, type ReactNode } from 'react'
import { NavLink, Outlet, useLocation } from 'react-router-dom'
import { useAuth, useUser } from '../auth/AuthProvider'
import { useAlerts } from '../realtime/AlertsProvider'
import { useRealtime } from '../realtime/RealtimeProvider'
import { useSupportUnread } from '../realtime/SupportUnread'
import { Icon, type IconName } from './Icon'

interface NavItem {
  to: string
  label: string
  icon: IconName
  badge?: number
}

export function Layout() {
  const user = useUser()
  const { logout } = useAuth()
  const { unread } = useAlerts()
  const supportUnread = useSupportUnread().total
  const { status } = useRealtime()
  const location = useLocation()
  const [menuOpen, setMenuOpen] = useState(false)

  useEffect(() => setMenuOpen(false), [location.pathname])
  useEffect(() => {
    if (!menuOpen) return
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && setMenuOpen(false)
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [menuOpen])

  const items: NavItem[] =
    user.role === 'ADMIN'
      ? [
          { to: '/admin/overview', label: 'Overview', icon: 'bolt' },
          { to: '/admin/users', label: 'Users', icon: 'users' },
          { to: '/admin/devices', label: 'Devices', icon: 'gauge' },
          { to: '/admin/tariffs', label: 'Tariffs', icon: 'tag' },
          { to: '/admin/consumption', label: 'Consumption', icon: 'chart' },
          { to: '/admin/inbox', label: 'Support inbox', icon: 'inbox', badge: supportUnread },
          { to: '/alerts', label: 'Alerts', icon: 'bell', badge: unread },
          { to: '/profile', label: 'Profile', icon: 'user' },
        ]
      : [
          { to: '/consumption', label: 'Consumption', icon: 'chart' },
          { to: '/devices', label: 'My devices', icon: 'gauge' },
          { to: '/alerts', label: 'Alerts', icon: 'bell', badge: unread },
          { to: '/support', label: 'Support', icon: 'chat', badge: supportUnread },
          { to: '/profile', label: 'Profile', icon: 'user' },
        ]

  return (
    <div className={`app${menuOpen ? ' menu-open' : ''}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="icon-btn"
          onClick={() => setMenuOpen((open) => !open)}
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          aria-label="Menu"
        >
          <Icon name={menuOpen ? 'close' : 'menu'} />
        </button>
        <Brand />
        <NavLink to="/alerts" className="icon-btn topbar-bell" aria-label={`Alerts${unread ? `, ${unread} unread` : ''}`}>
          <Icon name="bell" />
          {unread > 0 && <span className="badge badge-dot">{unread > 99 ? '99+' : unread}</span>}
        </NavLink>
      </header>
      <aside id="sidebar" className="sidebar" aria-label="Main">
        <div className="sidebar-brand">
          <Brand />
        </div>
        <nav className="nav">
          {items.map((item) => (
            <NavLink key={item.to} to={item.to} className={({ isActive }) => `nav-link${isActive ? ' active' : ''}`}>
              <Icon name={item.icon} />
              <span>{item.label}</span>
              {item.badge ? (
                <span className="badge" aria-label={`${item.badge} unread`}>
                  {item.badge > 99 ? '99+' : item.badge}
                </span>
              ) : null}
            </NavLink>
          ))}
        </nav>
        <div className="sidebar-footer">
          <div className="who">
            <span className="avatar" aria-hidden="true">
              {user.username.slice(0, 1).toUpperCase()}
            </span>
            <div>
              <strong>{user.username}</strong>
              <span className="muted">{user.role === 'ADMIN' ? 'Administrator' : 'Client'}</span>
            </div>
          </div>
          <ConnectionPill status={status} />
          <button type="button" className="btn btn-ghost btn-block" onClick={() => void logout()}>
            <Icon name="logout" /> Sign out
          </button>
        </div>
      </aside>
      <div className="backdrop" onClick={() => setMenuOpen(false)} aria-hidden="true" />
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  )
}

function ConnectionPill({ status }: { status: string }) {
  const text = status === 'open' ? 'Live updates on' : status === 'connecting' ? 'Connecting…' : 'Reconnecting…'
  return (
    <p className={`connection ${status === 'open' ? 'on' : 'off'}`} role="status">
      <span className="dot" aria-hidden="true" /> {text}
    </p>
  )
}

export function Brand() {
  return (
    <span className="brand">
      <span className="brand-mark" aria-hidden="true">
        <Icon name="bolt" />
      </span>
      <span className="brand-name">EMS</span>
    </span>
  )
}

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · EMS`
  }, [title])
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {description && <p className="muted">{description}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  )
}
