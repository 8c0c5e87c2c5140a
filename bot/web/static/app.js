// Mamori sandbox page: renders the Block Kit the Slack adapter posted to
// the sandbox's Slack, and sends what a person does back to it. Plain
// JavaScript, nothing fetched from outside.
'use strict';

const TEXTS = {
  ja: {
    sandbox: 'サンドボックス（Slack 不要）', you_are: 'あなたは', demo_clock: 'デモ時計',
    tab_dm: 'DM', tab_sup: '上長チャンネル', tab_hr: '人事チャンネル',
    messages: 'メッセージ', home: 'ホーム',
    sup_sub: '部署の上長チャンネル', hr_sub: '人事・相談窓口のチャンネル',
    compose_hint: '/kasuhara で開始・SOS と入力で緊急', channel_hint: 'このチャンネルへの投稿はアプリには届きません（/kasuhara は使えます）',
    placeholder_dm: 'Mamori へのメッセージ', placeholder_ch: '#{name} へのメッセージ',
    employee: '従業員', supervisor: '上長', hr: '人事', colleague: '同僚（権限なし）',
    member: '従業員', only_you: 'あなただけに表示されています', edited: '（編集済み）',
    required: 'この項目は必須です', failed: 'アプリが応答しませんでした（{status}）。もう一度お試しください。',
    close: '閉じる', shortcuts: 'ショートカット', attach: 'ファイルを送る', send: '送信',
    sos_shortcut: '今すぐ助けが必要', ahead: '実時間より {d} 進んでいます', empty: 'まだメッセージはありません',
    empty_dm: 'Mamori との DM です。{command} と入力するか、下のボタンで始めてください。', empty_channel: '報告や SOS が届くと、ここにカードが表示されます。',
    home_empty: 'ホームを開いています…', optional: '（任意）', select: '選択してください', replies: '{n} 件の返信', reply_one: '1 件の返信',
    thread: 'スレッド', no_one: '（該当者なし）', sent_file: 'ファイル', reply: '返信',
  },
  en: {
    sandbox: 'sandbox (no Slack needed)', you_are: 'You are', demo_clock: 'Demo clock',
    tab_dm: 'DM', tab_sup: 'Supervisors', tab_hr: 'HR',
    messages: 'Messages', home: 'Home',
    sup_sub: "the department's supervisor channel", hr_sub: "HR's consultation desk channel",
    compose_hint: 'Type /kasuhara to start, SOS in an emergency', channel_hint: 'Posts here do not reach the app (/kasuhara works)',
    placeholder_dm: 'Message Mamori', placeholder_ch: 'Message #{name}',
    employee: 'Employee', supervisor: 'Supervisor', hr: 'HR', colleague: 'Colleague (no access)',
    member: 'Member', only_you: 'Only visible to you', edited: '(edited)',
    required: 'Please complete this required field.', failed: 'The app did not answer ({status}). Please try again.',
    close: 'Close', shortcuts: 'Shortcuts', attach: 'Send a file', send: 'Send',
    sos_shortcut: 'I need help now', ahead: '{d} ahead of real time', empty: 'No messages yet',
    empty_dm: 'Your DM with Mamori. Type {command}, or press the button, to start.', empty_channel: 'Cards for reports and SOS alerts appear here.',
    home_empty: 'Opening Home…', optional: '(optional)', select: 'Select an option', replies: '{n} replies', reply_one: '1 reply',
    thread: 'Thread', no_one: '(nobody)', sent_file: 'File', reply: 'Reply',
  },
};

const EMOJI = {
  rotating_light: '🚨', warning: '⚠️', white_check_mark: '✅', heavy_check_mark: '✔️', x: '❌', bell: '🔔',
  sos: '🆘', hospital: '🏥', phone: '📞', telephone_receiver: '📞', memo: '📝', calendar: '📅', clock3: '🕒',
  bar_chart: '📊', chart_with_upwards_trend: '📈', lock: '🔒', information_source: 'ℹ️', bulb: '💡', muscle: '💪',
  red_circle: '🔴', large_orange_circle: '🟠', large_yellow_circle: '🟡', large_green_circle: '🟢', blue_heart: '💙',
  pray: '🙏', wave: '👋', eyes: '👀', point_right: '👉', books: '📚', mortar_board: '🎓', shield: '🛡️', zap: '⚡',
  hourglass: '⌛', hourglass_flowing_sand: '⏳', loudspeaker: '📢', mega: '📣', paperclip: '📎', file_folder: '📁',
};

const S = {
  as: '', version: 0, state: null, lang: 'ja', view: 'messages', pane: 'dm', supChannel: '',
  checks: {},      // "channel|ts|block" → array of ticked values, as the person changed them
  drafts: {},      // view id → {block: [values]}
  modalKey: '',    // what the modal on screen was rendered from
  busy: false, polling: 0, homeOpened: '',
};

const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
function t(key, vars) {
  let s = (TEXTS[S.lang] || TEXTS.ja)[key] || key;
  for (const k in vars || {}) s = s.replace('{' + k + '}', vars[k]);
  return s;
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) {
    const v = attrs[k];
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
}

// ---- mrkdwn ----------------------------------------------------------

function escapeHTML(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
function unescapeSlack(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
function emojify(s) {
  return s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
}
function personName(id) {
  if (!S.state) return id;
  if (id === S.state.bot) return 'Mamori';
  if (id === 'USLACKBOT') return 'Slackbot';
  const p = S.state.people.find((x) => x.id === id);
  return p ? p.handle : id;
}
function channelName(id) {
  const c = S.state && S.state.channels.find((x) => x.id === id);
  return c ? c.name : id;
}
function safeURL(u) {
  return /^(https?:|mailto:|tel:|\/files\/)/i.test(u) ? u : '';
}

// mrkdwn renders Slack's mrkdwn as HTML: what is between < and > is a
// mention or a link; the rest is escaped before *bold*, _italic_,
// ~strike~ and `code` are applied, so nothing typed becomes markup.
function mrkdwn(text) {
  const specials = [];
  const hold = (html) => '\u0000' + (specials.push(html) - 1) + '\u0000';
  let s = String(text || '');
  // Code blocks first: nothing inside is formatted.
  s = s.replace(/```([\s\S]*?)```/g, (m, code) => hold('<pre>' + escapeHTML(unescapeSlack(code)) + '</pre>'));
  s = s.replace(/`([^`\n]+)`/g, (m, code) => hold('<code>' + escapeHTML(unescapeSlack(code)) + '</code>'));
  s = s.replace(/<([^<>]+)>/g, (m, inner) => {
    const [target, label] = inner.split('|');
    if (target.startsWith('@')) {
      const id = target.slice(1);
      const cls = S.state && id === S.state.me ? 'mention me' : 'mention';
      return hold('<span class="' + cls + '" data-user="' + escapeHTML(id) + '">@' + escapeHTML(personName(id)) + '</span>');
    }
    if (target.startsWith('#')) return hold('<span class="mention">#' + escapeHTML(label || channelName(target.slice(1))) + '</span>');
    if (target.startsWith('!')) return hold('<span class="mention">@' + escapeHTML((label || target.slice(1)).replace(/^subteam\^/, '')) + '</span>');
    const url = safeURL(unescapeSlack(target));
    const shown = escapeHTML(unescapeSlack(label || target));
    if (!url) return hold(shown);
    return hold('<a href="' + escapeHTML(url) + '" target="_blank" rel="noopener noreferrer">' + shown + '</a>');
  });
  // Bare addresses are links, as Slack shows them.
  s = s.replace(/https?:\/\/[^\s<>\u0000「」（）()]+/g, (m) => {
    const url = m.replace(/[.,;:!?、。]+$/, '');
    const rest = m.slice(url.length);
    const u = unescapeSlack(url);
    return hold('<a href="' + escapeHTML(u) + '" target="_blank" rel="noopener noreferrer">' + escapeHTML(u) + '</a>') + rest;
  });
  s = escapeHTML(unescapeSlack(s));
  s = emojify(s);
  s = s.replace(/(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])/g, '$1<b>$2</b>');
  s = s.replace(/(^|[^\w])_(?!\s)([^_\n]+?)_(?!\w)/g, '$1<i>$2</i>');
  s = s.replace(/(^|[^\w~])~(?!\s)([^~\n]+?)~(?![\w~])/g, '$1<s>$2</s>');
  s = s.replace(/^&gt; ?(.*)$/gm, '<span class="quote">$1</span>');
  s = s.replace(/\n/g, '<br>');
  s = s.replace(/\u0000(\d+)\u0000/g, (m, i) => specials[+i]);
  return s;
}

function textNode(obj, cls) {
  const span = el('span', { class: cls || 'txt' });
  if (!obj) return span;
  if (typeof obj === 'string') { span.innerHTML = mrkdwn(obj); return span; }
  if (obj.type === 'plain_text') span.textContent = obj.emoji === false ? obj.text : emojify(obj.text || '');
  else span.innerHTML = mrkdwn(obj.text || '');
  return span;
}
function plain(obj) {
  if (!obj) return '';
  return emojify(typeof obj === 'string' ? obj : obj.text || '');
}

// ---- Block Kit -------------------------------------------------------

// renderBlocks renders blocks; ctx says where they are: a message
// (channel, ts), App Home or a modal (view), for what a click sends.
function renderBlocks(blocks, ctx) {
  const out = el('div', { class: 'blocks' });
  for (const b of blocks || []) {
    const node = renderBlock(b, ctx);
    if (node) out.append(node);
  }
  return out;
}

function renderBlock(b, ctx) {
  switch (b.type) {
    case 'header':
      return el('div', { class: 'b-header' }, el('h3', { text: plain(b.text) }));
    case 'divider':
      return el('hr', { class: 'b-divider' });
    case 'section': {
      const sec = el('div', { class: 'b-section', 'data-block': b.block_id });
      const main = el('div', { class: 'b-main' });
      if (b.text) main.append(el('div', { class: 'b-text' }, textNode(b.text)));
      if (b.fields && b.fields.length) {
        main.append(el('div', { class: 'b-fields' }, b.fields.map((f) => el('div', { class: 'b-field' }, textNode(f)))));
      }
      sec.append(main);
      if (b.accessory) sec.append(el('div', { class: 'b-accessory' }, renderElement(b.accessory, b.block_id, ctx)));
      return sec;
    }
    case 'context':
      return el('div', { class: 'b-context' }, (b.elements || []).map((e) =>
        e.type === 'image' ? el('img', { src: safeURL(e.image_url) || '', alt: e.alt_text || '', class: 'ctx-img' }) : textNode(e)));
    case 'image':
      return el('figure', { class: 'b-image' },
        b.title ? el('figcaption', { text: plain(b.title) }) : null,
        el('img', { src: safeURL(b.image_url || '') || '', alt: b.alt_text || '' }));
    case 'actions':
      return el('div', { class: 'b-actions', 'data-block': b.block_id },
        (b.elements || []).map((e) => renderElement(e, b.block_id, ctx)));
    case 'input':
      return renderInput(b, ctx);
    case 'rich_text':
      return el('div', { class: 'b-rich' }, (b.elements || []).map(renderRich));
  }
  return el('div', { class: 'b-unknown', text: '[' + b.type + ']' });
}

function renderRich(sec) {
  const wrap = el(sec.type === 'rich_text_preformatted' ? 'pre' : sec.type === 'rich_text_quote' ? 'blockquote' : 'div');
  if (sec.type === 'rich_text_list') {
    const list = el(sec.style === 'ordered' ? 'ol' : 'ul');
    for (const item of sec.elements || []) list.append(el('li', {}, renderRich(item)));
    return list;
  }
  for (const e of sec.elements || []) {
    let n;
    switch (e.type) {
      case 'text': {
        n = el('span', { text: e.text });
        if (e.style && e.style.bold) n = el('b', {}, n);
        if (e.style && e.style.italic) n = el('i', {}, n);
        if (e.style && e.style.code) n = el('code', {}, n);
        break;
      }
      case 'link': n = el('a', { href: safeURL(e.url) || '#', target: '_blank', rel: 'noopener noreferrer', text: e.text || e.url }); break;
      case 'user': n = el('span', { class: 'mention', text: '@' + personName(e.user_id) }); break;
      case 'channel': n = el('span', { class: 'mention', text: '#' + channelName(e.channel_id) }); break;
      case 'emoji': n = el('span', { text: EMOJI[e.name] || ':' + e.name + ':' }); break;
      default: n = el('span', { text: e.text || '' });
    }
    wrap.append(n);
  }
  return wrap;
}

function checkKey(ctx, block) { return (ctx.view || ctx.channel + '|' + ctx.ts) + '|' + block; }

function renderElement(e, block, ctx) {
  switch (e.type) {
    case 'button': {
      const cls = 'btn' + (e.style ? ' ' + e.style : '');
      if (e.url) return el('a', { class: cls, href: safeURL(e.url) || '#', target: '_blank', rel: 'noopener noreferrer', text: plain(e.text) });
      return el('button', { type: 'button', class: cls, 'data-block': block, 'data-action': e.action_id, 'data-value': e.value || '',
        onclick: (ev) => click(ev.currentTarget, ctx, { block, action: e.action_id, value: e.value }) }, plain(e.text));
    }
    case 'checkboxes': {
      const key = checkKey(ctx, block);
      const ticked = S.checks[key] || (e.initial_options || []).map((o) => o.value);
      const box = el('div', { class: 'checks', 'data-block': block, 'data-action': e.action_id });
      for (const o of e.options || []) {
        const input = el('input', { type: 'checkbox', value: o.value, 'data-block': block, checked: ticked.includes(o.value) });
        input.addEventListener('change', () => {
          const now = $$('input[type=checkbox]', box).filter((x) => x.checked).map((x) => x.value);
          S.checks[key] = now;
          if (ctx.kind !== 'modal') send(Object.assign(target(ctx), { kind: 'action', block, action: e.action_id, selected: now, state: stateFor(ctx) }), null, true);
        });
        box.append(el('label', { class: 'check' }, input,
          el('span', { class: 'check-text' }, textNode(o.text), o.description ? el('small', {}, textNode(o.description)) : null)));
      }
      return box;
    }
    case 'static_select': case 'overflow': case 'radio_buttons': {
      const sel = el('select', { class: 'select', 'data-block': block, 'data-action': e.action_id });
      sel.append(el('option', { value: '', text: plain(e.placeholder) || t('select') }));
      for (const o of e.options || []) sel.append(el('option', { value: o.value, text: plain(o.text), selected: e.initial_option && e.initial_option.value === o.value }));
      sel.addEventListener('change', () => send(Object.assign(target(ctx), { kind: 'action', block, action: e.action_id, selected: [sel.value], state: stateFor(ctx) })));
      return sel;
    }
  }
  return el('span', { class: 'b-unknown', text: '[' + e.type + ']' });
}

// target names where a click happened, for the act.
function target(ctx) {
  return ctx.view ? { view: ctx.view } : { channel: ctx.channel, ts: ctx.ts };
}
// stateFor collects the checkboxes ticked in a message or view.
function stateFor(ctx) {
  const st = {};
  const prefix = (ctx.view || ctx.channel + '|' + ctx.ts) + '|';
  for (const k in S.checks) if (k.startsWith(prefix)) st[k.slice(prefix.length)] = S.checks[k];
  return st;
}

function click(button, ctx, a) {
  send(Object.assign(target(ctx), { kind: 'action', block: a.block, action: a.action, value: a.value, state: stateFor(ctx) }), button);
}

// ---- modal inputs ----------------------------------------------------

function renderInput(b, ctx) {
  const e = b.element || {};
  const draft = (S.drafts[ctx.view] || {})[b.block_id];
  const err = ctx.errors && ctx.errors[b.block_id];
  const wrap = el('div', { class: 'b-input' + (err ? ' has-error' : ''), 'data-block': b.block_id, 'data-type': e.type, 'data-optional': b.optional ? '1' : '' });
  wrap.append(el('label', { class: 'in-label' }, plain(b.label), b.optional ? el('span', { class: 'optional', text: ' ' + t('optional') }) : null));
  const initial = (o) => draft ? draft.includes(o.value) : false;
  switch (e.type) {
    case 'plain_text_input': {
      const attrs = { 'data-block': b.block_id, maxlength: e.max_length || null, placeholder: plain(e.placeholder) || null };
      const input = e.multiline ? el('textarea', Object.assign({ rows: 4 }, attrs)) : el('input', Object.assign({ type: 'text' }, attrs));
      input.value = draft ? draft[0] || '' : e.initial_value || '';
      wrap.append(input);
      break;
    }
    case 'radio_buttons': {
      const box = el('div', { class: 'radios' });
      for (const o of e.options || []) {
        const on = draft ? initial(o) : e.initial_option && e.initial_option.value === o.value;
        box.append(el('label', { class: 'check' }, el('input', { type: 'radio', name: ctx.view + '|' + b.block_id, value: o.value, checked: on }),
          el('span', { class: 'check-text' }, textNode(o.text), o.description ? el('small', {}, textNode(o.description)) : null)));
      }
      wrap.append(box);
      break;
    }
    case 'checkboxes': {
      const box = el('div', { class: 'checks' });
      const init = (e.initial_options || []).map((o) => o.value);
      for (const o of e.options || []) {
        const on = draft ? initial(o) : init.includes(o.value);
        box.append(el('label', { class: 'check' }, el('input', { type: 'checkbox', value: o.value, checked: on }),
          el('span', { class: 'check-text' }, textNode(o.text), o.description ? el('small', {}, textNode(o.description)) : null)));
      }
      wrap.append(box);
      break;
    }
    case 'static_select': case 'multi_static_select': {
      const multi = e.type === 'multi_static_select';
      const sel = el('select', { class: 'select', multiple: multi, size: multi ? Math.min(8, (e.options || []).length) : null });
      if (!multi) sel.append(el('option', { value: '', text: plain(e.placeholder) || t('select') }));
      const init = multi ? (e.initial_options || []).map((o) => o.value) : e.initial_option ? [e.initial_option.value] : [];
      for (const o of e.options || []) {
        sel.append(el('option', { value: o.value, text: plain(o.text), selected: draft ? initial(o) : init.includes(o.value) }));
      }
      wrap.append(sel);
      break;
    }
    case 'users_select': {
      const sel = el('select', { class: 'select' });
      sel.append(el('option', { value: '', text: plain(e.placeholder) || t('select') }));
      for (const p of S.state.people) {
        const on = draft ? draft.includes(p.id) : e.initial_user === p.id;
        sel.append(el('option', { value: p.id, text: '@' + p.handle + (p.department_name ? ' — ' + p.department_name : ''), selected: on }));
      }
      wrap.append(sel);
      break;
    }
    default:
      wrap.append(el('div', { class: 'b-unknown', text: '[' + e.type + ']' }));
  }
  if (b.hint) wrap.append(el('div', { class: 'in-hint' }, textNode(b.hint)));
  if (err) wrap.append(el('div', { class: 'in-error', text: err === 'required' ? t('required') : err }));
  return wrap;
}

// inputValues reads a modal's inputs: block id → values.
function inputValues(root) {
  const values = {};
  for (const w of $$('.b-input', root)) {
    const id = w.dataset.block;
    switch (w.dataset.type) {
      case 'plain_text_input': values[id] = [$('input,textarea', w).value]; break;
      case 'radio_buttons': case 'checkboxes':
        values[id] = $$('input', w).filter((x) => x.checked).map((x) => x.value); break;
      case 'static_select': case 'multi_static_select': case 'users_select':
        values[id] = Array.from($('select', w).selectedOptions).map((o) => o.value).filter((v) => v !== ''); break;
    }
  }
  return values;
}

// ---- rendering -------------------------------------------------------

function avatar(user) {
  const name = personName(user);
  const bot = user === (S.state && S.state.bot);
  return el('div', { class: 'avatar' + (bot ? ' bot' : user === 'USLACKBOT' ? ' slackbot' : '') }, bot ? '守' : (name || '?').slice(0, 1).toUpperCase());
}

function renderMessage(m, channel, compact) {
  const ctx = { kind: 'message', channel, ts: m.ts };
  const node = el('div', { class: 'msg' + (m.ephemeral ? ' ephemeral' : '') + (compact ? ' compact' : ''), 'data-ts': m.ts, 'data-user': m.user });
  node.append(compact ? el('div', { class: 'gutter', text: m.time.slice(6) }) : avatar(m.user));
  const body = el('div', { class: 'msg-body' });
  if (!compact) {
    const bot = m.user === S.state.bot;
    body.append(el('div', { class: 'msg-head' }, el('b', { text: personName(m.user) }),
      bot ? el('span', { class: 'app-badge', text: 'APP' }) : null, el('span', { class: 'time', text: m.time })));
  }
  if (m.blocks && m.blocks.length) body.append(renderBlocks(m.blocks, ctx));
  else if (m.text) body.append(el('div', { class: 'b-text' }, textNode({ type: 'mrkdwn', text: m.text })));
  for (const f of m.files || []) {
    body.append(f.image
      ? el('figure', { class: 'file' }, el('img', { src: f.url, alt: f.alt || f.name }), el('figcaption', { text: f.title || f.name }))
      : el('a', { class: 'file doc', href: f.url, download: f.name }, f.title || f.name));
  }
  if (m.edited) body.append(el('span', { class: 'edited', text: t('edited') }));
  if (m.ephemeral) body.append(el('div', { class: 'only-you', text: t('only_you') }));
  node.append(body);
  return node;
}

function renderConversation(box, channel) {
  const msgs = (S.state.conversations[channel] || []);
  // Only what changed is drawn again: a click in progress, a hover or a
  // ticked box stay as they are.
  const key = S.as + '|' + S.lang + '|' + JSON.stringify(msgs);
  if (box.dataset.channel === channel && box._key === key) return;
  box._key = key;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60 || box.dataset.channel !== channel;
  box.dataset.channel = channel;
  box.textContent = '';
  if (!msgs.length) {
    const dm = channel === S.state.dm;
    box.append(el('div', { class: 'empty' }, el('p', { text: dm ? t('empty_dm', { command: S.state.command }) : t('empty_channel') }),
      dm ? el('button', { type: 'button', class: 'btn primary', 'data-start': '1',
        onclick: (ev) => send({ kind: 'message', channel, text: S.state.command }, ev.currentTarget) }, S.state.command) : null));
  }
  const replies = {};
  for (const m of msgs) if (m.thread_ts && m.thread_ts !== m.ts) (replies[m.thread_ts] = replies[m.thread_ts] || []).push(m);
  let prev = null;
  for (const m of msgs) {
    if (m.thread_ts && m.thread_ts !== m.ts && msgs.some((x) => x.ts === m.thread_ts)) continue;
    const compact = prev && prev.user === m.user && !m.ephemeral && !prev.ephemeral && prev.time.slice(0, 5) === m.time.slice(0, 5) &&
      !(m.blocks && m.blocks.some((b) => b.type === 'header'));
    const node = renderMessage(m, channel, compact);
    const rs = replies[m.ts];
    if (rs) {
      const th = el('div', { class: 'thread' }, el('div', { class: 'thread-head', text: rs.length === 1 ? t('reply_one') : t('replies', { n: rs.length }) }));
      for (const r of rs) th.append(renderMessage(r, channel, false));
      $('.msg-body', node).append(th);
    }
    box.append(node);
    prev = m;
  }
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function renderHome() {
  const box = $('#home-body');
  const home = S.state.home;
  const key = JSON.stringify(home);
  if (box.dataset.key === key && box.dataset.as === S.as) return;
  box.dataset.key = key;
  box.dataset.as = S.as;
  box.textContent = '';
  if (!home) { box.append(el('div', { class: 'empty', text: t('home_empty') })); return; }
  box.append(renderBlocks(home.blocks, { kind: 'home', view: home.id }));
}

function renderModal() {
  const root = $('#modal-root');
  const m = S.state.modal;
  const key = m ? JSON.stringify([m.id, m.view, m.errors]) : '';
  if (key === S.modalKey) return;
  if (m && S.modalKey && root.firstChild && root.firstChild.dataset.view === m.id) {
    S.drafts[m.id] = inputValues(root); // keep what was typed across a re-render
  }
  S.modalKey = key;
  root.textContent = '';
  if (!m) return;
  const v = m.view;
  const ctx = { kind: 'modal', view: m.id, errors: m.errors || {} };
  const form = el('form', { class: 'modal-box', novalidate: true });
  form.append(el('div', { class: 'modal-head' }, el('h2', { text: plain(v.title) }),
    el('button', { type: 'button', class: 'x', 'aria-label': t('close'), onclick: closeModal }, '×')));
  form.append(el('div', { class: 'modal-body' }, renderBlocks(v.blocks, ctx)));
  const foot = el('div', { class: 'modal-foot' });
  foot.append(el('button', { type: 'button', class: 'btn', id: 'modal-close', onclick: closeModal }, plain(v.close) || t('close')));
  if (v.submit) foot.append(el('button', { type: 'submit', class: 'btn primary', id: 'modal-submit' }, plain(v.submit)));
  form.append(foot);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); submitModal(form, m.id); });
  root.append(el('div', { class: 'modal-shade', 'data-view': m.id }, form));
}

function closeModal() {
  const m = S.state.modal;
  if (!m) return;
  send({ kind: 'close', view: m.id });
}

function submitModal(form, id) {
  const values = inputValues(form);
  S.drafts[id] = values;
  // Slack checks required inputs before it sends anything.
  let missing = false;
  for (const w of $$('.b-input', form)) {
    const v = values[w.dataset.block] || [];
    const empty = !v.some((x) => String(x).trim() !== '');
    $$('.in-error.local', w).forEach((x) => x.remove());
    if (!w.dataset.optional && empty) {
      missing = true;
      w.classList.add('has-error');
      w.append(el('div', { class: 'in-error local', text: t('required') }));
    }
  }
  if (missing) return;
  send({ kind: 'submit', view: id, values }, $('#modal-submit'));
}

function renderPeople() {
  const st = S.state;
  const cast = $('#cast');
  cast.textContent = '';
  for (const role of ['employee', 'supervisor', 'hr', 'colleague']) {
    const id = st.cast[role];
    if (!id) continue;
    cast.append(el('button', { type: 'button', class: 'tool' + (id === S.as ? ' on' : ''), 'data-cast': role, 'data-person': id,
      onclick: () => switchTo(id) }, t(role), el('small', { text: ' @' + personName(id) })));
  }
  const sel = $('#person');
  sel.textContent = '';
  for (const p of st.people) {
    const roles = p.roles.map((r) => t(r)).join('・');
    sel.append(el('option', { value: p.id, selected: p.id === S.as, text: '@' + p.handle + ' — ' + [p.department_name, roles].filter(Boolean).join(' / ') }));
  }
}

function supChannels() { return S.state.channels.filter((c) => !c.hr); }

function render() {
  const st = S.state;
  S.lang = st.lang;
  document.documentElement.lang = st.lang;
  for (const n of $$('[data-t]')) n.textContent = t(n.dataset.t);
  for (const n of $$('[data-t-title]')) n.title = t(n.dataset.tTitle);
  for (const b of $$('[data-lang]')) b.classList.toggle('on', b.dataset.lang === st.lang);
  $('#now').textContent = st.now;
  $('#ahead').textContent = st.ahead > 0 ? t('ahead', { d: fmtAhead(st.ahead) }) : '';
  for (const b of $$('[data-by]')) b.hidden = !st.clock;
  renderPeople();

  // The supervisors' channel: the one of the person's department.
  const sups = supChannels();
  const me = st.people.find((p) => p.id === st.me) || {};
  if (!sups.some((c) => c.id === S.supChannel)) {
    const mine = sups.find((c) => c.department === me.department);
    S.supChannel = (mine || sups[0] || {}).id || '';
  }
  const sel = $('#sup-channel');
  sel.textContent = '';
  for (const c of sups) sel.append(el('option', { value: c.id, selected: c.id === S.supChannel, text: c.name + (c.department_name ? ' (' + c.department_name + ')' : '') }));
  const hr = st.channels.find((c) => c.hr);
  $('#hr-title').textContent = '# ' + (hr ? hr.name : '');
  $('#hr-body').dataset.channel = hr ? hr.id : '';

  $('#pane-dm textarea').placeholder = t('placeholder_dm');
  $('#pane-dm textarea').dataset.channel = st.dm;
  $('#pane-sup textarea').placeholder = t('placeholder_ch', { name: channelName(S.supChannel) });
  $('#pane-sup textarea').dataset.channel = S.supChannel;
  $('#pane-hr textarea').placeholder = t('placeholder_ch', { name: hr ? hr.name : '' });
  $('#pane-hr textarea').dataset.channel = hr ? hr.id : '';

  renderConversation($('#dm-body'), st.dm);
  if (S.supChannel) renderConversation($('#sup-body'), S.supChannel);
  if (hr) renderConversation($('#hr-body'), hr.id);
  renderHome();
  renderModal();
  document.body.dataset.version = st.version;
  document.body.dataset.as = st.me;
}

function fmtAhead(min) {
  const d = Math.floor(min / 1440), h = Math.floor((min % 1440) / 60), m = min % 60;
  return [d ? d + 'd' : '', h ? h + 'h' : '', m ? m + 'm' : ''].filter(Boolean).join(' ') || '0m';
}

// ---- talking to the sandbox ------------------------------------------

let toastTimer = 0;
function toast(text) {
  const n = $('#toast');
  n.textContent = text;
  n.classList.add('on');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => n.classList.remove('on'), 5000);
}

async function send(act, button, quiet) {
  act.as = S.as;
  if (button) { button.disabled = true; button.classList.add('busy'); }
  document.body.classList.add('working');
  try {
    const r = await fetch('/sandbox/act', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(act) });
    const res = await r.json().catch(() => ({}));
    if (!res.ok && !quiet && res.error !== 'refused' && res.error !== 'required') toast(t('failed', { status: res.status || res.error || r.status }));
    return res;
  } catch (e) {
    if (!quiet) toast(t('failed', { status: e.message }));
    return {};
  } finally {
    if (button) { button.disabled = false; button.classList.remove('busy'); }
    document.body.classList.remove('working');
  }
}

async function poll() {
  const me = ++S.polling;
  let since = 0;
  for (;;) {
    try {
      const r = await fetch('/sandbox/state?as=' + encodeURIComponent(S.as) + '&since=' + since, { cache: 'no-store' });
      if (me !== S.polling) return;
      if (!r.ok) throw new Error(r.status);
      const st = await r.json();
      if (me !== S.polling) return;
      since = st.version;
      if (!S.as) { S.as = st.me; remember(); }
      S.state = st;
      render();
    } catch (e) {
      if (me !== S.polling) return;
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  }
}

function remember() {
  try { localStorage.setItem('mamori.as', S.as); } catch (e) { /* private mode */ }
  const u = new URL(location.href);
  u.searchParams.set('as', S.as);
  history.replaceState(null, '', u);
}

function switchTo(id) {
  if (id === S.as) return;
  S.as = id;
  S.checks = {};
  S.modalKey = '';
  S.supChannel = '';
  S.homeOpened = '';
  remember();
  if (S.view === 'home') openHome();
  poll();
}

function openHome() {
  if (S.homeOpened === S.as) return;
  S.homeOpened = S.as;
  send({ kind: 'home' }, null, true);
}

function setView(view) {
  S.view = view;
  for (const b of $$('.ptab')) b.classList.toggle('on', b.dataset.view === view);
  $('#dm-body').classList.toggle('hidden', view !== 'messages');
  $('#home-body').classList.toggle('hidden', view !== 'home');
  $('#dm-composer').classList.toggle('hidden', view !== 'messages');
  if (view === 'home') { S.homeOpened = ''; openHome(); }
}

function setPane(pane) {
  S.pane = pane;
  for (const b of $$('#tabs button')) b.classList.toggle('on', b.dataset.pane === pane);
  for (const p of $$('.pane')) p.classList.toggle('on', p.dataset.pane === pane);
  // A conversation opens at its newest message, as Slack's do.
  for (const body of $$('.pane.on .pane-body:not(.home)')) body.scrollTop = body.scrollHeight;
}

function composer(form) {
  const ta = $('textarea', form);
  const submit = async () => {
    const text = ta.value.trim();
    if (!text) return;
    ta.value = '';
    ta.style.height = '';
    const res = await send({ kind: 'message', channel: ta.dataset.channel, text });
    if (!res.ok && res.error === 'bad_request') ta.value = text;
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });
  ta.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submit(); }
  });
  ta.addEventListener('input', () => { ta.style.height = ''; ta.style.height = Math.min(ta.scrollHeight, 160) + 'px'; });
}

function shortcutMenu(ev) {
  const root = $('#menu-root');
  if (root.firstChild) { root.textContent = ''; return; }
  const r = ev.currentTarget.getBoundingClientRect();
  const menu = el('div', { class: 'menu' },
    el('div', { class: 'menu-head', text: t('shortcuts') }),
    el('button', { type: 'button', 'data-shortcut': 'sos', onclick: () => { root.textContent = ''; send({ kind: 'shortcut', callback: 'sos' }); } },
      'SOS — ' + t('sos_shortcut')));
  menu.style.left = Math.max(8, r.left) + 'px';
  menu.style.bottom = (innerHeight - r.top + 6) + 'px';
  root.append(menu);
}

async function attach(ev) {
  const f = ev.target.files[0];
  ev.target.value = '';
  if (!f) return;
  const body = new FormData();
  body.append('file', f);
  const r = await fetch('/sandbox/upload?as=' + encodeURIComponent(S.as), { method: 'POST', body });
  if (!r.ok) toast(t('failed', { status: r.status }));
}

function start() {
  const q = new URL(location.href).searchParams;
  S.as = q.get('as') || (() => { try { return localStorage.getItem('mamori.as'); } catch (e) { return ''; } })() || '';
  if (q.get('pane')) setPane(q.get('pane'));
  for (const f of $$('form.composer')) composer(f);
  $('#person').addEventListener('change', (ev) => switchTo(ev.target.value));
  $('#sup-channel').addEventListener('change', (ev) => { S.supChannel = ev.target.value; render(); });
  for (const b of $$('[data-by]')) b.addEventListener('click', () => send({ kind: 'clock', by: b.dataset.by }, b));
  for (const b of $$('[data-lang]')) b.addEventListener('click', () => send({ kind: 'lang', lang: b.dataset.lang }, b));
  for (const b of $$('.ptab')) b.addEventListener('click', () => setView(b.dataset.view));
  for (const b of $$('#tabs button')) b.addEventListener('click', () => setPane(b.dataset.pane));
  $('#shortcut').addEventListener('click', shortcutMenu);
  $('#attach').addEventListener('change', attach);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && S.state && S.state.modal) closeModal(); });
  poll();
}

document.addEventListener('DOMContentLoaded', start);
