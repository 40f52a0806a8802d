<?php

declare(strict_types=1);

namespace GatewayClient;

/**
 * GatewayClient's behaviour where an unchanged app depends on it (the default; strict mode skips all
 * of this). Three rules, each GatewayClient v3.1.1's:
 *
 * - What GatewayClient ignores is ignored: a malformed client id (it echoes "client_id ... is
 *   invalid" and returns false), an empty uid (`0`, `'0'`, `''`, `null`: the gateway's `empty($uid)`),
 *   an empty group (`isValidGroupId`), a `$client_id_array` that is not an array. Such a call sends
 *   nothing and returns GatewayClient's answer for it; the warning goes to PHP's error log
 *   (error_log), not to the page as GatewayClient's echo did. Malformed ids inside a list are dropped.
 * - A client that is gone is a quiet no-op: bindUid, unbindUid, joinGroup, leaveGroup, setSession and
 *   updateSession on it return nothing, sendToClient returns false.
 * - Return values have GatewayClient's types: the sends return nothing (sendToClient a bool), as do
 *   updateSession and unbindUid; unbindUid ignores its `$uid`, as GatewayClient's gateway does.
 */
final class GatewayCompat
{
    /** An API Gateway connection id; anything else is GatewayClient's "invalid client_id". */
    private const CLIENT_ID = '/^[A-Za-z0-9_-]{15}=$/';

    /** GatewayClient's answer to a malformed client id, by method. */
    private const INVALID_CLIENT_ID = [
        'sendToClient' => false, 'isOnline' => 0, 'closeClient' => false, 'destoryClient' => false, 'destroyClient' => false,
        'bindUid' => null, 'unbindUid' => null, 'joinGroup' => null, 'leaveGroup' => null, 'getUidByClientId' => null,
        'getSession' => false, 'setSession' => null, 'updateSession' => null, 'getGroupsByClientId' => [], 'verifyBindToken' => false,
    ];

    /** GatewayClient's answer to an empty group, by method. */
    private const INVALID_GROUP = [
        'joinGroup' => null, 'leaveGroup' => null, 'ungroup' => false, 'sendToGroup' => false,
        'getClientIdListByGroup' => [], 'getUidListByGroup' => [], 'getUidCountByGroup' => 0, 'getClientSessionsByGroup' => [],
    ];

    /** GatewayClient's answer to an empty uid, by method. */
    private const EMPTY_UID = ['bindUid' => null, 'sendToUid' => null, 'isUidOnline' => 0, 'getClientIdByUid' => []];

    /** Mutations GatewayClient's gateway drops when the client is not there. */
    private const QUIET_WHEN_GONE = ['bindUid' => null, 'unbindUid' => null, 'joinGroup' => null, 'leaveGroup' => null, 'setSession' => null, 'updateSession' => null, 'sendToClient' => false];

    /**
     * The arguments to send, or a GatewayCompatSkip with GatewayClient's answer when it would send nothing.
     *
     * @return array<int, mixed>|GatewayCompatSkip
     */
    public static function prepare(string $method, array $args): array|GatewayCompatSkip
    {
        if (array_key_exists($method, self::INVALID_CLIENT_ID) && !self::isClientId($args[0] ?? null)) {
            self::warn("{$method}: client_id " . self::describe($args[0] ?? null) . ' is invalid');
            return new GatewayCompatSkip(self::INVALID_CLIENT_ID[$method]);
        }
        switch ($method) {
            case 'bindUid':
            case 'sendToUid':
            case 'isUidOnline':
            case 'getClientIdByUid':
                $position = $method === 'bindUid' ? 1 : 0;
                $uid = $args[$position] ?? null;
                $uid = is_array($uid) && $method === 'sendToUid' ? array_values(array_filter($uid, static fn ($u) => !self::isEmptyName($u))) : $uid;
                if ((is_array($uid) && $uid === []) || (!is_array($uid) && self::isEmptyName($uid))) {
                    return new GatewayCompatSkip(self::EMPTY_UID[$method]);
                }
                $args[$position] = $uid;
                break;
            case 'unbindUid':
                $args = [$args[0]];
                break;
            case 'joinGroup':
            case 'leaveGroup':
            case 'ungroup':
            case 'sendToGroup':
            case 'getClientIdListByGroup':
            case 'getUidListByGroup':
            case 'getUidCountByGroup':
            case 'getClientSessionsByGroup':
                $position = in_array($method, ['joinGroup', 'leaveGroup'], true) ? 1 : 0;
                $group = $args[$position] ?? null;
                if (is_array($group)) {
                    $group = array_values(array_filter($group, static fn ($g) => !self::isEmptyName($g)));
                    $args[$position] = $group;
                }
                if (is_array($group) ? $group === [] : self::isEmptyName($group)) {
                    self::warn("{$method}: group " . self::describe($group) . ' is invalid');
                    return new GatewayCompatSkip(self::INVALID_GROUP[$method]);
                }
                break;
            case 'sendToAll':
                $list = $args[1] ?? null;
                if ($list !== null && !is_array($list)) {
                    if ($list) {
                        self::warn('sendToAll: $client_id_array must be an array, got ' . self::describe($list));
                        return new GatewayCompatSkip(null);
                    }
                    $args[1] = null;
                } elseif (is_array($list) && $list !== []) {
                    $args[1] = self::validIds($list, 'sendToAll');
                    if ($args[1] === []) {
                        return new GatewayCompatSkip(null);
                    }
                }
                break;
        }
        $exclude = match ($method) {
            'sendToAll' => 2,
            'sendToGroup', 'sendToUid' => 2,
            default => null,
        };
        if ($exclude !== null && isset($args[$exclude])) {
            $ids = is_array($args[$exclude]) ? $args[$exclude] : [$args[$exclude]];
            $valid = array_values(array_filter($ids, static fn ($id) => self::isClientId($id)));
            $args[$exclude] = $valid === [] ? null : $valid;
        }
        return $args;
    }

    /** True when this failure is one GatewayClient never reports (a mutation on a client that is gone). */
    public static function isQuietFailure(string $method, array $error): bool
    {
        return ($error['code'] ?? null) === GatewayException::CONNECTION_GONE && array_key_exists($method, self::QUIET_WHEN_GONE);
    }

    public static function quietResult(string $method): mixed
    {
        return self::QUIET_WHEN_GONE[$method] ?? null;
    }

    /** A result as GatewayClient returns it. */
    public static function shape(string $method, mixed $result): mixed
    {
        return match ($method) {
            'sendToAll', 'sendToUid', 'sendToGroup', 'updateSession', 'unbindUid' => null,
            'sendToClient' => is_array($result) && is_array($result['sent'] ?? null) && $result['sent'] !== [],
            default => $result,
        };
    }

    private static function isClientId(mixed $value): bool
    {
        return is_string($value) && preg_match(self::CLIENT_ID, $value) === 1;
    }

    /** GatewayClient's empty(): 0, '0', '', null, false (an array is checked where arrays are taken). */
    private static function isEmptyName(mixed $value): bool
    {
        return $value === null || $value === false || $value === '' || $value === '0' || $value === 0;
    }

    /** @return list<string> */
    private static function validIds(array $ids, string $method): array
    {
        $valid = [];
        foreach ($ids as $id) {
            if (self::isClientId($id)) {
                $valid[] = $id;
            } else {
                self::warn("{$method}: client_id " . self::describe($id) . ' is invalid');
            }
        }
        return $valid;
    }

    private static function describe(mixed $value): string
    {
        return is_string($value) ? '"' . substr($value, 0, 64) . '"' : get_debug_type($value);
    }

    private static function warn(string $message): void
    {
        error_log('GatewayClient: ' . $message . ' (ignored, as GatewayClient does; Gateway::$strict = true makes it an exception)');
    }
}

/** @internal GatewayCompat::prepare's answer when GatewayClient would send nothing: the value to return. */
final class GatewayCompatSkip
{
    public function __construct(public readonly mixed $result)
    {
    }
}
