<?php
// The recommended page, to start from (index.php is the seed's page, kept as a compatibility demo).
// What it does differently: messages are parsed with JSON.parse (eval would run whatever a message
// holds as code) and shown as text, not HTML; the init message's bind_token is posted with the
// client id, so a backend that requires bind tokens binds it; every POST carries the session's CSRF
// token (session.php). No jQuery: fetch does the post.
// Log in first (login.php): bind.php binds the uid and group of the PHP session.
require __DIR__ . '/session.php';
$websocket_url = getenv('GATEWAY_WEBSOCKET_URL') ?: 'ws://127.0.0.1:3001/prod';
?>
<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <meta name="csrf-token" content="<?= htmlspecialchars(csrf_token(), ENT_QUOTES) ?>">
  <title>GatewayClient push demo</title>
</head>
<body>
<p id="status">connecting</p>
<ul id="messages"></ul>
<script>
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const socket = new WebSocket(<?= json_encode($websocket_url, JSON_UNESCAPED_SLASHES | JSON_HEX_TAG) ?>);

function show(text) {
  const item = document.createElement('li');
  item.textContent = text;
  document.getElementById('messages').append(item);
}

async function bind(clientId, bindToken) {
  const fields = { client_id: clientId };
  if (bindToken) fields.bind_token = bindToken;
  const response = await fetch('./bind.php', {
    method: 'POST',
    headers: { 'X-CSRF-Token': csrfToken },
    body: new URLSearchParams(fields),
  });
  const answer = await response.json();
  document.getElementById('status').textContent = response.ok ? `bound as ${answer.uid}` : `bind failed: ${answer.message}`;
}

socket.onmessage = (event) => {
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    return show(event.data); // not JSON: shown as it came
  }
  if (data && data.type === 'init') return void bind(data.client_id, data.bind_token);
  show(data && data.type === 'say' ? `${data.from}: ${data.text}` : event.data);
};
socket.onclose = () => (document.getElementById('status').textContent = 'closed');
</script>
</body>
</html>
