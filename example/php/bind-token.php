<?php
// The seed's page with bind tokens: index.php with one line changed, the $.post also sends the init
// message's bind_token, so a backend that requires bind tokens binds it. index.php's notes:
// The seed's page. Its script is GatewayWorker's push snippet as it stands; only the WebSocket URL
// changed: the API Gateway stage's URL (GATEWAY_WEBSOCKET_URL) instead of ws://your_domain.com:7272.
// Log in first (login.php): bind.php binds the uid and group of the PHP session.
// The compatibility demo: app.php is the page to start from (JSON.parse, not eval). session.php's
// CSRF token rides on every $.post as a header (the seed's snippet itself is unchanged).
require __DIR__ . '/session.php';
$websocket_url = getenv('GATEWAY_WEBSOCKET_URL') ?: 'ws://127.0.0.1:3001/prod';
?>
<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>GatewayClient push demo</title>
  <meta name="csrf-token" content="<?= htmlspecialchars(csrf_token(), ENT_QUOTES) ?>">
  <script src="./jquery.min.js"></script>
  <script>$.ajaxSetup({headers: {'X-CSRF-Token': $('meta[name="csrf-token"]').attr('content')}});</script>
</head>
<body>
<script>
ws = new WebSocket(<?= json_encode($websocket_url, JSON_UNESCAPED_SLASHES | JSON_HEX_TAG) ?>);
// Messages the server pushes arrive here.
ws.onmessage = function(e){
    // JSON text to a JavaScript object.
    var data = eval("("+e.data+")");
    var type = data.type || '';
    switch(type){
        // The init message: post the client_id to the backend, which binds it to the session's uid.
        case 'init':
            $.post('./bind.php', {client_id: data.client_id, bind_token: data.bind_token}, function(data){}, 'json');
            break;
        // Anything the backend pushes with Gateway::sendToUid / sendToGroup.
        default :
            alert(e.data);
    }
};
</script>
</body>
</html>
