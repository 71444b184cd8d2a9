/**
 * The port the job handler delivers through. Only the delivery client creates
 * DeliveryErrors; only the job handler decides what a job does with them.
 */

import type { ResidentMessage } from '../campaign/message.js';

/**
 * What one AddMessage call settled for one recipient: OK delivered, INFO
 * unreachable (no 1177 account, or a locked one), ERROR rejected, and
 * uncertain when the answer broke the contract (the call reached the platform
 * and may have stored the message; nobody should guess).
 */
export type CallOutcome = 'delivered' | 'unreachable' | 'rejected' | 'uncertain';

/** What is the same for every recipient of a campaign: built once per campaign. */
export interface MessageSpec {
  campaignId: string;
  /** Heading, text (authoring format), inbox title and signature: what the resident sees. */
  message: ResidentMessage;
  notify: boolean;
  /** The sender shown to the resident (healthCareFacility). */
  unit: {
    hsaId: string;
    name: string;
    telephone?: string;
    address?: { street: string; postalCode: string; city: string };
  };
}

export interface DeliveryRequest {
  /** 12 digits, no hyphen. Never logged. */
  subjectOfCareId: string;
  /**
   * Deterministic per (campaign, recipient), sent as businessObjectId. The
   * platform THREADS a message with a known businessObjectId under the
   * earlier one; it does not drop it.
   */
  messageId: string;
}

export interface DeliveryResult {
  outcome: CallOutcome;
  /** The platform's resultCode / resultText or fault text, without personal data. */
  detail: string;
  /** For unreachable and rejected: the platform's resultText (masked, at most 200 characters), the reason the report groups by. */
  reason?: string;
  httpStatus: number;
  latencyMs: number;
}

/**
 * - `transient`: worth retrying (Unavailable, 5xx, timeout, connection error).
 * - `rate-limited`: 429 or 503 with Retry-After: wait `retryAfterMs`, then retry.
 * - `stop-campaign`: every later call would fail too (Unauthorized, certificate refused).
 */
export type DeliveryErrorKind = 'transient' | 'rate-limited' | 'stop-campaign';

/** Whose certificate a failed TLS handshake refused. */
export type TlsRefusal = 'their-certificate' | 'our-certificate';

export class DeliveryError extends Error {
  readonly kind: DeliveryErrorKind;
  /** Stable code for logs and metrics, e.g. HTTP_503, TIMEOUT, ECONNREFUSED, Unauthorized. Never a decision's input. */
  readonly code: string;
  readonly retryAfterMs: number | undefined;
  readonly httpStatus: number | undefined;
  /**
   * The call may have reached the platform, which may have stored the
   * message: no answer came in time, the connection broke once the request
   * was on it, or a gateway answered 502/504 (it may have forwarded the call).
   * A resend may then be a second message in the inbox. Default false.
   */
  readonly mayHaveLanded: boolean;
  /**
   * For a TLS failure, whose certificate was refused: `their-certificate`
   * (we could not verify the platform's: unknown CA, wrong host name,
   * expired) or `our-certificate` (the handshake ended on their side).
   */
  readonly tlsRefusal: TlsRefusal | undefined;
  constructor(
    kind: DeliveryErrorKind,
    code: string,
    message: string,
    options: {
      retryAfterMs?: number;
      httpStatus?: number;
      mayHaveLanded?: boolean;
      tlsRefusal?: TlsRefusal;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryError';
    this.kind = kind;
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
    this.httpStatus = options.httpStatus;
    this.mayHaveLanded = options.mayHaveLanded ?? false;
    this.tlsRefusal = options.tlsRefusal;
  }
  get retryable(): boolean {
    return this.kind !== 'stop-campaign';
  }
}

/** One campaign's sender: the SOAP body template is built once, then one call per recipient. */
export interface CampaignSender {
  send(request: DeliveryRequest, signal?: AbortSignal): Promise<DeliveryResult>;
}

export interface InboxClient {
  forCampaign(spec: MessageSpec): CampaignSender;
  close(): Promise<void>;
}
