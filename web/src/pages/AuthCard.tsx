import type { ReactNode } from 'react'
import { Brand } from '../components/Layout'

export function AuthCard({ title, subtitle, children, footer }: { title: string; subtitle: string; children: ReactNode; footer: ReactNode }) {
  return (
    <main className="auth-page" id="main">
      <div className="auth-card card">
        <div className="auth-brand">
          <Brand />
        </div>
        <h1>{title}</h1>
        <p className="muted">{subtitle}</p>
        {children}
      </div>
      <p className="auth-footer">{footer}</p>
    </main>
  )
}
