<?php
// The seed's send_message.php: pushes a message from the logged-in user to a uid (to_uid) or to a
// group (to_group). The page alerts whatever arrives; it evals it first, so messages are JSON.
require_once __DIR__ . '/../../clients/php/Gateway.php';

use GatewayClient\Gateway;
use GatewayClient\GatewayException;

// Strict mode: the sends return their delivery report (GatewayClient's return nothing), which the
// answer below counts, and failures GatewayClient would ignore are exceptions.
Gateway::$strict = true;

session_start();
header('Content-Type: application/json');
if (!isset($_SESSION['uid'])) {
    http_response_code(401);
    exit(json_encode(['error' => 'NOT_LOGGED_IN', 'message' => 'log in first (login.php)']));
}
$message = json_encode(['type' => 'say', 'from' => $_SESSION['uid'], 'text' => (string) ($_POST['message'] ?? '')]);
try {
    if (isset($_POST['to_uid'])) {
        $report = Gateway::sendToUid($_POST['to_uid'], $message);
    } elseif (isset($_POST['to_group'])) {
        $report = Gateway::sendToGroup($_POST['to_group'], $message);
    } else {
        http_response_code(400);
        exit(json_encode(['error' => 'VALIDATION', 'message' => 'post to_uid or to_group, and message']));
    }
    echo json_encode(['sent' => count($report['sent']), 'gone' => count($report['gone']), 'failed' => count($report['failed'])]);
} catch (GatewayException $e) {
    http_response_code($e->getErrorCode() === GatewayException::VALIDATION ? 400 : 502);
    echo json_encode(['error' => $e->getErrorCode(), 'message' => $e->getMessage()]);
}
