import type { ReactNode } from 'react'
import { Navigate, Route, Routes, useLocation } from 'react-router-dom'
import type { Role } from './api/types'
import { useAuth } from './auth/AuthProvider'
import { Layout } from './components/Layout'
import { AdminConsumptionPage } from './pages/admin/AdminConsumptionPage'
import { AdminDevicesPage } from './pages/admin/AdminDevicesPage'
import { InboxPage } from './pages/admin/InboxPage'
import { OverviewPage } from './pages/admin/OverviewPage'
import { TariffsPage } from './pages/admin/TariffsPage'
import { UsersPage } from './pages/admin/UsersPage'
import { AlertsPage } from './pages/AlertsPage'
import { ConsumptionPage } from './pages/client/ConsumptionPage'
import { DevicesPage } from './pages/client/DevicesPage'
import { SupportPage } from './pages/client/SupportPage'
import { LoginPage } from './pages/LoginPage'
import { NotFoundPage } from './pages/NotFoundPage'
import { ProfilePage } from './pages/ProfilePage'
import { RegisterPage } from './pages/RegisterPage'
import { AlertsProvider } from './realtime/AlertsProvider'
import { DeviceNamesProvider } from './realtime/DeviceNames'
import { SupportUnreadProvider } from './realtime/SupportUnread'
import { RealtimeProvider } from './realtime/RealtimeProvider'

export function homeFor(role: Role): string {
  return role === 'ADMIN' ? '/admin/overview' : '/consumption'
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<SignedOutOnly><LoginPage /></SignedOutOnly>} />
      <Route path="/register" element={<SignedOutOnly><RegisterPage /></SignedOutOnly>} />
      <Route element={<SignedIn />}>
        <Route index element={<Home />} />
        <Route path="consumption" element={<OnlyFor role="CLIENT"><ConsumptionPage /></OnlyFor>} />
        <Route path="devices" element={<OnlyFor role="CLIENT"><DevicesPage /></OnlyFor>} />
        <Route path="support" element={<OnlyFor role="CLIENT"><SupportPage /></OnlyFor>} />
        <Route path="alerts" element={<AlertsPage />} />
        <Route path="profile" element={<ProfilePage />} />
        <Route path="admin/overview" element={<OnlyFor role="ADMIN"><OverviewPage /></OnlyFor>} />
        <Route path="admin/users" element={<OnlyFor role="ADMIN"><UsersPage /></OnlyFor>} />
        <Route path="admin/devices" element={<OnlyFor role="ADMIN"><AdminDevicesPage /></OnlyFor>} />
        <Route path="admin/tariffs" element={<OnlyFor role="ADMIN"><TariffsPage /></OnlyFor>} />
        <Route path="admin/consumption" element={<OnlyFor role="ADMIN"><AdminConsumptionPage /></OnlyFor>} />
        <Route path="admin/inbox" element={<OnlyFor role="ADMIN"><InboxPage /></OnlyFor>} />
        <Route path="admin/inbox/:userId" element={<OnlyFor role="ADMIN"><InboxPage /></OnlyFor>} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  )
}

/** Everything behind the login: the live connection and its consumers, then the layout. */
function SignedIn() {
  const { user } = useAuth()
  const location = useLocation()
  if (!user) {
    const from = location.pathname + location.search
    return <Navigate to="/login" replace state={from !== '/' ? { from } : undefined} />
  }
  return (
    <RealtimeProvider>
      <DeviceNamesProvider>
        <AlertsProvider>
          <SupportUnreadProvider>
            <Layout />
          </SupportUnreadProvider>
        </AlertsProvider>
      </DeviceNamesProvider>
    </RealtimeProvider>
  )
}

function SignedOutOnly({ children }: { children: ReactNode }) {
  const { user } = useAuth()
  const location = useLocation()
  if (user) {
    const from = (location.state as { from?: string } | null)?.from
    return <Navigate to={from ?? homeFor(user.role)} replace />
  }
  return <>{children}</>
}

function Home() {
  const { user } = useAuth()
  return <Navigate to={homeFor(user?.role ?? 'CLIENT')} replace />
}

function OnlyFor({ role, children }: { role: Role; children: ReactNode }) {
  const { user } = useAuth()
  if (user?.role !== role) return <Navigate to={homeFor(user?.role ?? 'CLIENT')} replace />
  return <>{children}</>
}
