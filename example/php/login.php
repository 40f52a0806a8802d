<?php
// A stand-in for the app's own login: it puts the user's uid and group in the PHP session, which is
// all bind.php trusts (the page posts only its client_id). Demo only: anyone may log in as anyone.
//   GET  login.php?uid=alice&group=room-1[&page=bind-token.php]   a form, filled in from the query
//   POST login.php  uid, group, page, csrf_token                    logs in, then redirects to the page
// Logging in is a POST with the CSRF token (a link cannot log anyone in), and it gives the session a
// new id (an id known before the login is worth nothing after it).
require __DIR__ . '/session.php';

const PAGES = ['app.php', 'index.php', 'bind-token.php'];

if (($_SERVER['REQUEST_METHOD'] ?? '') === 'POST') {
    require_post_with_csrf_token();
    session_regenerate_id(true);
    $_SESSION['uid'] = (string) ($_POST['uid'] ?? 'guest');
    $_SESSION['group'] = (string) ($_POST['group'] ?? 'lobby');
    // A new CSRF token goes with the new session id.
    unset($_SESSION['csrf_token']);
    $page = in_array($_POST['page'] ?? '', PAGES, true) ? $_POST['page'] : 'app.php';
    header("Location: ./{$page}", true, 303);
    exit;
}
$field = fn (string $name, string $default) => htmlspecialchars((string) ($_GET[$name] ?? $default), ENT_QUOTES);
?>
<!doctype html>
<html>
<head><meta charset="utf-8"><title>Log in</title></head>
<body>
<form method="post" action="./login.php">
  <input type="hidden" name="csrf_token" value="<?= htmlspecialchars(csrf_token(), ENT_QUOTES) ?>">
  <input type="hidden" name="page" value="<?= $field('page', 'app.php') ?>">
  <label>uid <input name="uid" value="<?= $field('uid', 'guest') ?>"></label>
  <label>group <input name="group" value="<?= $field('group', 'lobby') ?>"></label>
  <button type="submit">Log in</button>
</form>
</body>
</html>
