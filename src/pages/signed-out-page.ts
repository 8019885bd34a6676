/**
 * `{prefix}/signed_out`: where `sign_out` lands when it was given no other place (no `rd`, or an
 * `rd` that is the sign-out itself). It says what happened and offers to sign in again.
 */
import type { PageModel } from './page-template.ts';

export function signedOutModel(prefix: string, requestId?: string): PageModel {
  return {
    title: 'You are signed out',
    message:
      'Your session here has ended, and at your identity provider too where it supports that. You can close this window, or sign in again.',
    actions: [
      { label: 'Sign in again', href: `${prefix}/start`, primary: true },
      { label: 'Go to the home page', href: '/' },
    ],
    ...(requestId !== undefined ? { requestId } : {}),
  };
}
