// What the fake Slack remembers: teams, channels, messages with their edit history, uploaded files, response_urls,
// and every call with its parsed arguments, so tests assert on what a real workspace would show.

export interface FakeTeam {
  readonly id: string;
  readonly domain: string;
}

export interface FakeMessage {
  readonly channel: string;
  readonly ts: string;
  text?: string;
  blocks?: unknown[];
  files?: string[];
  /** Every version, oldest first: the post and each chat.update. */
  readonly history: { at: number; text?: string; blocks?: unknown[] }[];
  /** Set for ephemeral messages (from chat.postEphemeral, ack payloads or response_url). */
  readonly ephemeralTo?: string;
  readonly via: 'chat.postMessage' | 'chat.postEphemeral' | 'ack' | 'response_url' | 'files.completeUploadExternal';
}

export interface FakeFile {
  readonly id: string;
  readonly filename: string;
  readonly declaredLength: number;
  bytes?: Buffer;
  title?: string;
  completed: boolean;
  readonly createdAt: number;
}

export interface FakeCall {
  /** Web API method name, or `upload`, `response_url`, `file_download`. */
  readonly method: string;
  readonly at: number;
  readonly token?: string;
  readonly contentType: string;
  readonly args: Record<string, unknown>;
  /** HTTP status the fake answered with. */
  status: number;
  /** The JSON body the fake answered with (absent for non-JSON replies). */
  response?: Record<string, unknown>;
  /** Schema errors, empty when the arguments were valid. */
  schemaErrors: string[];
}

export interface ResponseUrl {
  readonly id: string;
  readonly channel: string;
  readonly user: string;
  readonly createdAt: number;
  /** The message the interaction came from, for replace_original/delete_original. */
  readonly messageTs?: string;
  uses: number;
}

/** Something a real Slack would count against the app: a late or missing ack, an invalid call, an unused upload… */
export interface FakeFailure {
  readonly kind:
    | 'late_ack'
    | 'missing_ack'
    | 'invalid_arguments'
    | 'invalid_auth'
    | 'unknown_method'
    | 'upload_mismatch'
    | 'response_url_expired'
    | 'rate_limit_exceeded'
    | 'unexpected_ack'
    | 'file_in_use';
  readonly detail: string;
  readonly at: number;
}
