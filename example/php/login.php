<?php
// A stand-in for the app's own login: it puts the user's uid and group in the PHP session, which is
// all bind.php trusts (the page posts only its client_id). Demo only: anyone may log in as anyone.
//   login.php?uid=alice&group=room-1[&page=bind-token.php]
session_start();
$_SESSION['uid'] = (string) ($_GET['uid'] ?? 'guest');
$_SESSION['group'] = (string) ($_GET['group'] ?? 'lobby');
$page = ($_GET['page'] ?? '') === 'bind-token.php' ? 'bind-token.php' : 'index.php';
header("Location: ./{$page}");
