<?php
// The session settings every page and endpoint of the example starts with. PHP's defaults take any
// session id a browser brings, even one an attacker chose and planted (session fixation); these do
// not: strict mode issues a fresh id for one the server never made, login.php changes the id at
// login, and the cookie is HttpOnly, SameSite=Lax and, over https, Secure.
// Every POST carries the session's CSRF token (a form field csrf_token, or the X-CSRF-Token header
// that the pages' scripts send), so another site cannot post in the user's name.

function example_is_https(): bool
{
    return (!empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off')
        || strtolower(explode(',', $_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '')[0]) === 'https';
}

ini_set('session.use_strict_mode', '1');
ini_set('session.use_only_cookies', '1');
ini_set('session.use_trans_sid', '0');
session_set_cookie_params([
    'path' => '/',
    'httponly' => true,
    'samesite' => 'Lax',
    'secure' => example_is_https(),
]);
session_start();

/** The session's CSRF token, made on first use. */
function csrf_token(): string
{
    if (!isset($_SESSION['csrf_token']) || !is_string($_SESSION['csrf_token'])) {
        $_SESSION['csrf_token'] = bin2hex(random_bytes(32));
    }
    return $_SESSION['csrf_token'];
}

/** Ends the request unless it is a POST that carries the session's CSRF token. */
function require_post_with_csrf_token(): void
{
    if (($_SERVER['REQUEST_METHOD'] ?? '') !== 'POST') {
        http_response_code(405);
        header('Allow: POST');
        header('Content-Type: application/json');
        exit(json_encode(['error' => 'METHOD', 'message' => 'POST only']));
    }
    $given = $_POST['csrf_token'] ?? $_SERVER['HTTP_X_CSRF_TOKEN'] ?? '';
    $expected = $_SESSION['csrf_token'] ?? null;
    if (!is_string($given) || !is_string($expected) || !hash_equals($expected, $given)) {
        http_response_code(403);
        header('Content-Type: application/json');
        exit(json_encode(['error' => 'CSRF', 'message' => 'missing or wrong CSRF token']));
    }
}
