import { useEffect, useId, useRef, type ReactNode } from 'react'
import { Icon } from './Icon'
import { Form } from './Field'

/**
 * A modal on the native <dialog>: the browser traps focus, Esc closes it, and focus returns
 * to whatever opened it.
 */
export function Dialog({
  open,
  title,
  onClose,
  children,
  footer,
  size = 'md',
}: {
  open: boolean
  title: string
  onClose: () => void
  children: ReactNode
  footer?: ReactNode
  size?: 'sm' | 'md'
}) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()

  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) {
      if (typeof dialog.showModal === 'function') dialog.showModal()
      else dialog.setAttribute('open', '')
    } else if (!open && dialog.open) {
      if (typeof dialog.close === 'function') dialog.close()
      else dialog.removeAttribute('open')
    }
  }, [open])

  return (
    <dialog
      ref={ref}
      className={`dialog dialog-${size}`}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault()
        onClose()
      }}
      onClick={(event) => {
        // A click on the backdrop (the dialog element itself, outside its card) closes it.
        if (event.target === ref.current) onClose()
      }}
    >
      {open && (
        <div className="dialog-card">
          <header className="dialog-header">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="icon-btn" onClick={onClose} aria-label="Close">
              <Icon name="close" />
            </button>
          </header>
          <div className="dialog-body">{children}</div>
          {footer && <footer className="dialog-footer">{footer}</footer>}
        </div>
      )}
    </dialog>
  )
}

export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  busy,
  error,
  onConfirm,
  onClose,
}: {
  open: boolean
  title: string
  children: ReactNode
  confirmLabel: string
  busy?: boolean
  error?: string | null
  onConfirm: () => void
  onClose: () => void
}) {
  return (
    <Dialog
      open={open}
      title={title}
      onClose={onClose}
      size="sm"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="button" className="btn btn-danger" onClick={onConfirm} disabled={busy}>
            {busy ? 'Working…' : confirmLabel}
          </button>
        </>
      }
    >
      {children}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </Dialog>
  )
}

/** Cancel, and the primary button that says when it is saving; `form` makes it that form's submit. */
export function DialogButtons({
  label,
  busy,
  disabled,
  form,
  onConfirm,
  onClose,
}: {
  label: string
  busy: boolean
  disabled?: boolean
  form?: string
  onConfirm?: () => void
  onClose: () => void
}) {
  return (
    <>
      <button type="button" className="btn" onClick={onClose}>
        Cancel
      </button>
      <button
        type={form ? 'submit' : 'button'}
        form={form}
        className="btn btn-primary"
        onClick={onConfirm}
        disabled={busy || disabled}
      >
        {busy ? 'Saving…' : label}
      </button>
    </>
  )
}

/** A dialog around one form: its error on top, submitted by the footer's button or Enter. */
export function FormDialog({
  id,
  title,
  submitLabel,
  submitting,
  error,
  onSubmit,
  onClose,
  children,
}: {
  id: string
  title: string
  submitLabel: string
  submitting: boolean
  error: string | null
  onSubmit: () => void
  onClose: () => void
  children: ReactNode
}) {
  return (
    <Dialog open title={title} onClose={onClose} footer={<DialogButtons label={submitLabel} busy={submitting} form={id} onClose={onClose} />}>
      <Form id={id} error={error} onSubmit={onSubmit}>
        {children}
      </Form>
    </Dialog>
  )
}
