// Payloads shaped like the ones Slack sends for a slash command and a block_actions interaction (docs.slack.dev
// "Implementing slash commands" and "block_actions payloads"). Every field of a slash command is a string.

export interface SlashCommandInput {
  readonly command: string;
  readonly text?: string;
  readonly teamId?: string;
  readonly channelId?: string;
  readonly userId?: string;
  readonly userName?: string;
}

export interface SlashCommandPayload {
  token: string;
  team_id: string;
  team_domain: string;
  channel_id: string;
  channel_name: string;
  user_id: string;
  user_name: string;
  command: string;
  text: string;
  api_app_id: string;
  is_enterprise_install: string;
  response_url: string;
  trigger_id: string;
}

export interface ButtonAction {
  action_id: string;
  block_id: string;
  text: { type: 'plain_text'; text: string; emoji?: boolean };
  value?: string;
  style?: string;
  type: 'button';
  action_ts: string;
}

export interface BlockActionsPayload {
  type: 'block_actions';
  user: { id: string; username: string; name: string; team_id: string };
  api_app_id: string;
  token: string;
  container: { type: 'message'; message_ts: string; channel_id: string; is_ephemeral: boolean };
  trigger_id: string;
  team: { id: string; domain: string };
  enterprise: null;
  is_enterprise_install: boolean;
  channel: { id: string; name: string };
  message: Record<string, unknown>;
  state: { values: Record<string, never> };
  response_url: string;
  actions: ButtonAction[];
}

/** The legacy verification token Slack still puts in payloads; Bolt ignores it. */
export const verificationToken = 'fake-verification-token';

let counter = 0;
export const nextId = (prefix: string) => `${prefix}${(++counter).toString(36).toUpperCase().padStart(6, '0')}`;
export const triggerId = () => `${Date.now()}.${Math.floor(Math.random() * 1e12)}.${nextId('').toLowerCase()}`;
export const nowTs = () => {
  const ms = Date.now();
  return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000 + (++counter % 1000)).padStart(6, '0')}`;
};
