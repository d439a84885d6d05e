// HTML of the development IdP: sign-in, sign-out and error pages.
// Self-contained (inline CSS, no external fonts or scripts).

export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
  background:#eef1f5;color:#1f2933;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:100%;max-width:380px;margin:24px;padding:32px;background:#fff;border-radius:10px;
  box-shadow:0 1px 3px rgba(0,0,0,.12),0 8px 24px rgba(0,0,0,.06)}
.brand{margin:0 0 4px;font-size:13px;font-weight:600;letter-spacing:.06em;text-transform:uppercase;color:#52606d}
h1{margin:0 0 20px;font-size:24px;font-weight:600}
p{margin:0 0 16px}
label{display:block;margin:0 0 4px;font-weight:500}
input[type=text],input[type=password]{display:block;width:100%;margin:0 0 16px;padding:10px 12px;
  font:inherit;border:1px solid #9aa5b1;border-radius:6px}
input:focus{outline:2px solid #2f6fdb;outline-offset:1px;border-color:#2f6fdb}
button{display:block;width:100%;padding:11px;font:inherit;font-weight:600;color:#fff;background:#2f6fdb;
  border:0;border-radius:6px;cursor:pointer}
button:hover{background:#2459b5}
button.secondary{margin-top:10px;color:#1f2933;background:#e4e7eb}
button.secondary:hover{background:#cbd2d9}
.error{padding:10px 12px;border-radius:6px;background:#fde8e8;color:#9b1c1c;border:1px solid #f8b4b4}
.note{margin:20px 0 0;font-size:13px;color:#616e7c}
`;

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="brand">Campus account</p>
${body}
</main>
</body>
</html>`;
}

export function loginPage({ uid, clientName, username = '', error = '', demoUsernames = [] }) {
  return page('Campus sign-in', `
<h1>Campus sign-in</h1>
${clientName ? `<p>Sign in to continue to <strong>${esc(clientName)}</strong>.</p>` : ''}
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
  <label for="username">Username</label>
  <input type="text" id="username" name="username" value="${esc(username)}" required autocapitalize="none" spellcheck="false"${username ? '' : ' autofocus'}>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" required${username ? ' autofocus' : ''}>
  <button type="submit">Sign in</button>
</form>
<p class="note">Development identity provider (stand-in for the campus one).${demoUsernames.length ? ` Demo accounts: ${demoUsernames.map(esc).join(', ')}.` : ''}</p>`);
}

export function logoutPage(form) {
  // `form` is oidc-provider's hidden <form id="op.logoutForm"> carrying the xsrf token.
  return page('Campus sign-out', `
<h1>Sign out of your campus account?</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>
<button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>`);
}

export function signedOutPage() {
  return page('Signed out', `
<h1>Signed out</h1>
<p>You have signed out of your campus account. You can close this window.</p>`);
}

export function errorPage(title, message) {
  return page(title, `
<h1>${esc(title)}</h1>
<p>${esc(message)}</p>`);
}
