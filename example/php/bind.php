<?php
// The seed's bind.php: binds the client id the page posts to the session's uid and group. The uid
// and group come from the server-side session, never from the request. With bind tokens required,
// the page must also post the init message's bind_token (bind-token.php and app.php do). A POST only,
// with the session's CSRF token (session.php).
require_once __DIR__ . '/../../clients/php/Gateway.php';

use GatewayClient\Gateway;
use GatewayClient\GatewayException;

require __DIR__ . '/session.php';
header('Content-Type: application/json');
if (!isset($_SESSION['uid'], $_SESSION['group'])) {
    http_response_code(401);
    exit(json_encode(['error' => 'NOT_LOGGED_IN', 'message' => 'log in first (login.php)']));
}
require_post_with_csrf_token();
$client_id = $_POST['client_id'] ?? '';
$bind_token = $_POST['bind_token'] ?? null;
try {
    Gateway::bindUid($client_id, $_SESSION['uid'], $bind_token);
    Gateway::joinGroup($client_id, $_SESSION['group'], $bind_token);
    echo json_encode(['ok' => true, 'uid' => $_SESSION['uid'], 'group' => $_SESSION['group']]);
} catch (GatewayException $e) {
    http_response_code(match ($e->getErrorCode()) {
        GatewayException::VALIDATION => 400,
        GatewayException::CONNECTION_GONE => 410,
        GatewayException::FORBIDDEN, 'BIND_TOKEN' => 403,
        default => 502,
    });
    echo json_encode(['error' => $e->getErrorCode(), 'message' => $e->getMessage()]);
}
