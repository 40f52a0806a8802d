<?php
// A GatewayClient app's push code as such apps write it: static calls on GatewayClient\Gateway, the
// app's own register address, no try/catch, return values used as GatewayClient returns them. Only
// the require line differs from a GatewayClient app. The test gives it the client ids (argv[2..])
// and the register address form (argv[1]: "string" or "array"), and reads what each call returned
// (var_export, keyed by step) from stdout; GatewayClient's warnings go to stderr (PHP's error log).
require_once __DIR__ . '/../../../clients/php/Gateway.php';

use GatewayClient\Gateway;

[$script, $form, $alice, $bob, $gone, $userId] = $argv;
$userId = (int) $userId; // as $user->id comes from a database
$aliceUid = 'alice-' . $userId;
$room = 'room-' . $userId;
if ($form === 'array') {
    Gateway::$registerAddress = ['127.0.0.1:1238', '127.0.0.1:1239'];
} else {
    Gateway::$registerAddress = '127.0.0.1:1238';
}

$results = [];
$step = static function (string $name, $value) use (&$results): void {
    $results[$name] = var_export($value, true);
};

// login.php: bind the page's client id to the user, join the user's room
$step('bindUid', Gateway::bindUid($alice, $aliceUid));
$step('joinGroup', Gateway::joinGroup($alice, $room));
Gateway::bindUid($bob, $userId);
Gateway::joinGroup($bob, $room);
Gateway::setSession($bob, ['name' => 'Bob']);

// send_message.php: pushes, with exclusions
$step('sendToAll', Gateway::sendToAll('{"to":"all but alice"}', null, $alice));
$step('sendToGroup', Gateway::sendToGroup($room, '{"to":"room but bob"}', $bob));
$step('sendToUid', Gateway::sendToUid($userId, '{"to":"the user id"}'));
$step('sendToClient', Gateway::sendToClient($alice, '{"to":"alice"}'));
$step('sendToAll listed', Gateway::sendToAll('{"to":"listed"}', [$alice, $bob], [$bob]));

// queries, in GatewayClient's shapes
$step('isOnline', Gateway::isOnline($alice));
$step('isUidOnline', Gateway::isUidOnline($aliceUid));
$step('getClientIdByUid', Gateway::getClientIdByUid($userId));
$step('getUidByClientId', Gateway::getUidByClientId($bob));
$step('getClientIdListByGroup', Gateway::getClientIdListByGroup($room));
$step('getUidListByGroup', Gateway::getUidListByGroup($room));
$step('getClientIdCountByGroup', Gateway::getClientIdCountByGroup($room));
$step('getSession', Gateway::getSession($bob));
$step('updateSession', Gateway::updateSession($bob, ['lang' => 'fr']));
$step('getSession after update', Gateway::getSession($bob));

// logout.php on a page that is already closed: GatewayClient says nothing
$step('gone sendToClient', Gateway::sendToClient($gone, 'bye'));
$step('gone bindUid', Gateway::bindUid($gone, $aliceUid));
$step('gone unbindUid', Gateway::unbindUid($gone, $aliceUid));
$step('gone joinGroup', Gateway::joinGroup($gone, $room));
$step('gone leaveGroup', Gateway::leaveGroup($gone, $room));
$step('gone setSession', Gateway::setSession($gone, ['a' => 1]));
$step('gone updateSession', Gateway::updateSession($gone, ['a' => 1]));
$step('gone closeClient', Gateway::closeClient($gone));
$step('gone isOnline', Gateway::isOnline($gone));
$step('gone getSession', Gateway::getSession($gone));
$step('gone getUidByClientId', Gateway::getUidByClientId($gone));

// what GatewayClient ignores with a warning
$step('guest bindUid', Gateway::bindUid($alice, 0));
$step('empty joinGroup', Gateway::joinGroup($alice, ''));
$step('empty sendToGroup', Gateway::sendToGroup('', 'x'));
$step('malformed isOnline', Gateway::isOnline('7f00000108fc00000008'));
$step('malformed getSession', Gateway::getSession('7f00000108fc00000008'));
$step('malformed sendToClient', Gateway::sendToClient('7f00000108fc00000008', 'x'));
$step('sendToAll not an array', Gateway::sendToAll('x', 'not-an-array'));
$step('empty name among groups', Gateway::sendToGroup(['', $room], '{"to":"nobody: both excluded"}', [$alice, $bob]));

// GatewayClient's unbindUid ignores its $uid: alice is unbound whatever uid is named
$step('unbindUid other uid', Gateway::unbindUid($alice, 'someone-else'));
$step('getUidByClientId after unbind', Gateway::getUidByClientId($alice));

echo json_encode($results, JSON_UNESCAPED_SLASHES), "\n";
