<?php

declare(strict_types=1);

/**
 * GatewayClient for PHP, on the serverless gateway: GatewayClient v3's static methods, names and
 * argument order, each one a signed Invoke of the Gateway API Lambda (docs/guides/php.md).
 * An existing app keeps its `Gateway::$registerAddress = '127.0.0.1:1236'` (any register address,
 * or an array of them, means this gateway: GATEWAY_API_FUNCTION), or names the function there.
 *
 * By default it behaves as GatewayClient where an unchanged app depends on it: return values have
 * GatewayClient's types and shapes (sends return nothing, `sendToClient` a bool, `isOnline` 0/1,
 * lists keyed by id), calls on a client that is gone do nothing, and what GatewayClient ignores with
 * a warning (a malformed client id, an empty uid or group) is ignored with a line in PHP's error log.
 * Strict mode (`Gateway::$strict = true`, or GATEWAY_STRICT=1) throws a GatewayException with a
 * stable code there instead and returns the sends' delivery reports (GatewayCompat.php has the rules).
 */

namespace GatewayClient;

require_once __DIR__ . '/GatewayException.php';
require_once __DIR__ . '/SigV4Signer.php';
require_once __DIR__ . '/GatewayApiClient.php';
require_once __DIR__ . '/GatewayCompat.php';
foreach (['Credentials', 'CredentialsException', 'HttpFetch', 'SharedConfigFiles', 'Sts', 'EnvironmentCredentials', 'ProfileCredentials', 'WebIdentityCredentials', 'ContainerCredentials', 'InstanceMetadataCredentials', 'CredentialChain'] as $gatewayClientCredentialsFile) {
    require_once __DIR__ . '/Credentials/' . $gatewayClientCredentialsFile . '.php';
}
unset($gatewayClientCredentialsFile);

class Gateway
{
    /** GatewayClient's default; like any register address, it means this gateway (GATEWAY_API_FUNCTION). */
    public const DEFAULT_REGISTER_ADDRESS = '127.0.0.1:1236';

    /** The variable that turns strict mode on when `$strict` is left null. */
    public const STRICT_ENV = 'GATEWAY_STRICT';

    /**
     * GatewayClient's Register address, or the Gateway API function. Any register address (`ip:port`,
     * `host:port`, or an array of them: what a GatewayClient app already has here), empty or null
     * means this gateway, whose function GATEWAY_API_FUNCTION names. A function name, `name:alias`
     * or an ARN selects that function (a numeric version qualifier looks like a port: pass an ARN).
     *
     * @var string|array<string>|null
     */
    public static $registerAddress = self::DEFAULT_REGISTER_ADDRESS;

    /**
     * Strict mode: failures GatewayClient ignores (a client that is gone, a malformed id, an empty uid
     * or group) throw a GatewayException, sends return their delivery report, `updateSession` the
     * merged session, and `unbindUid` checks its `$uid`. Null (the default) reads GATEWAY_STRICT.
     */
    public static ?bool $strict = null;

    /** Kept so configuration code still runs; IAM (SigV4) authenticates, there is no shared secret. */
    public static $secretKey = '';

    /** Seconds to wait for the connection to Lambda's endpoint. */
    public static $connectTimeout = 3;

    /** Seconds a call may take in all (the function's own timeout is 10 s by default). */
    public static $timeout = 30;

    /** Kept so configuration code still runs: the connection to Lambda is always kept alive within a process. */
    public static $persistentConnection = false;

    /** Kept so configuration code still runs: there are no gateway addresses to cache. */
    public static $addressesCacheDisable = false;

    private static ?GatewayApiClient $client = null;
    private static ?string $clientKey = null;

    // ---- sending -----------------------------------------------------------------------------

    /**
     * To every connection, or to `$client_id_array` only (`[]`: to nobody), except `$exclude_client_id`.
     * Returns nothing, as GatewayClient; in strict mode the delivery report: recipients, sent, gone, failed.
     */
    public static function sendToAll($message, $client_id_array = null, $exclude_client_id = null, $raw = false)
    {
        self::refuseRaw($raw, __FUNCTION__);
        return self::run(__FUNCTION__, [$message, $client_id_array, $exclude_client_id]);
    }

    /** True when the message was posted, false when the client is gone (strict mode: the report). */
    public static function sendToClient($client_id, $message)
    {
        return self::run(__FUNCTION__, [$client_id, $message]);
    }

    /** `$uid`: one uid or an array of uids; each connection gets the message once. */
    public static function sendToUid($uid, $message)
    {
        return self::run(__FUNCTION__, [$uid, $message]);
    }

    /** `$group`: one group or an array; a connection in several of them gets the message once. */
    public static function sendToGroup($group, $message, $exclude_client_id = null, $raw = false)
    {
        self::refuseRaw($raw, __FUNCTION__);
        return self::run(__FUNCTION__, [$group, $message, $exclude_client_id]);
    }

    // ---- connections ---------------------------------------------------------------------------

    /** 1 when the client is connected, else 0. */
    public static function isOnline($client_id)
    {
        return self::run(__FUNCTION__, [$client_id]);
    }

    /** Sends `$message` (when given) and closes; false when the client was already gone. */
    public static function closeClient($client_id, $message = null)
    {
        return self::run(__FUNCTION__, [$client_id, $message]);
    }

    /** GatewayClient's spelling; closes at once (API Gateway has no harder close than closeClient's). */
    public static function destoryClient($client_id)
    {
        return self::run(__FUNCTION__, [$client_id]);
    }

    public static function destroyClient($client_id)
    {
        return self::run(__FUNCTION__, [$client_id]);
    }

    /** As in GatewayClient: there is no current client outside GatewayWorker's own processes. */
    public static function destoryCurrentClient()
    {
        throw new GatewayException('destoryCurrentClient has no current client outside an Events callback; use destoryClient($client_id)', GatewayException::UNSUPPORTED);
    }

    // ---- uids ----------------------------------------------------------------------------------

    /** `$bind_token`: the init message's bind_token, when the backend requires bind tokens. */
    public static function bindUid($client_id, $uid, $bind_token = null)
    {
        self::run(__FUNCTION__, [$client_id, $uid, $bind_token]);
    }

    /** Unbinds the client's uid, whichever it is, as GatewayClient; strict mode: only if `$uid` is the one bound. */
    public static function unbindUid($client_id, $uid)
    {
        self::run(__FUNCTION__, [$client_id, $uid]);
    }

    public static function isUidOnline($uid)
    {
        return self::run(__FUNCTION__, [$uid]);
    }

    /** The uid's connections, a list. */
    public static function getClientIdByUid($uid)
    {
        return self::run(__FUNCTION__, [$uid]);
    }

    /** [uid => 0/1] for every uid asked. */
    public static function isUidsOnline(array $uids)
    {
        return self::run(__FUNCTION__, [$uids]);
    }

    /** [uid => list of client ids] for every uid asked. */
    public static function batchGetClientIdByUid(array $uids)
    {
        return self::run(__FUNCTION__, [$uids]);
    }

    /** The client's uid, or null. */
    public static function getUidByClientId($client_id)
    {
        return self::run(__FUNCTION__, [$client_id]);
    }

    /** New: true when `$bind_token` is the client's and unexpired (bindUid and joinGroup check it themselves). */
    public static function verifyBindToken($client_id, $bind_token)
    {
        return self::run(__FUNCTION__, [$client_id, $bind_token]);
    }

    /** New: closes every connection of the uid; returns the report (recipients, closed, gone, failed). */
    public static function closeUid($uid, $message = null)
    {
        return self::run(__FUNCTION__, [$uid, $message]);
    }

    // ---- groups --------------------------------------------------------------------------------

    /** `$bind_token`: the init message's bind_token, when the backend requires bind tokens. */
    public static function joinGroup($client_id, $group, $bind_token = null)
    {
        self::run(__FUNCTION__, [$client_id, $group, $bind_token]);
    }

    public static function leaveGroup($client_id, $group)
    {
        self::run(__FUNCTION__, [$client_id, $group]);
    }

    public static function ungroup($group)
    {
        self::run(__FUNCTION__, [$group]);
    }

    /** New: the client's groups, a list (GatewayClient cannot tell). */
    public static function getGroupsByClientId($client_id)
    {
        return self::run(__FUNCTION__, [$client_id]);
    }

    /** [client_id => client_id]; `$group` may be an array (the union). */
    public static function getClientIdListByGroup($group)
    {
        return self::run(__FUNCTION__, [$group]);
    }

    /** `''` (the default): every connection. */
    public static function getClientIdCountByGroup($group = '')
    {
        return self::run(__FUNCTION__, [$group]);
    }

    public static function getClientCountByGroup($group = '')
    {
        return self::run(__FUNCTION__, [$group]);
    }

    /** [client_id => session]. */
    public static function getClientSessionsByGroup($group)
    {
        return self::run(__FUNCTION__, [$group]);
    }

    /** [uid => uid]: the group's distinct uids. */
    public static function getUidListByGroup($group)
    {
        return self::run(__FUNCTION__, [$group]);
    }

    public static function getUidCountByGroup($group)
    {
        return self::run(__FUNCTION__, [$group]);
    }

    /** [group => number of connections] for every group asked. */
    public static function batchGetClientIdCountByGroup(array $groups)
    {
        return self::run(__FUNCTION__, [$groups]);
    }

    // ---- everything ----------------------------------------------------------------------------

    public static function getAllClientIdCount()
    {
        return self::run(__FUNCTION__, []);
    }

    public static function getAllClientCount()
    {
        return self::run(__FUNCTION__, []);
    }

    /** [client_id => client_id]. */
    public static function getAllClientIdList()
    {
        return self::run(__FUNCTION__, []);
    }

    /** [client_id => session]; with a group, that group's connections only. */
    public static function getAllClientSessions($group = '')
    {
        return self::run(__FUNCTION__, [$group]);
    }

    /** Deprecated in GatewayClient too (it echoes a warning): getAllClientSessions. */
    public static function getAllClientInfo($group = '')
    {
        trigger_error('Gateway::getAllClientInfo is deprecated; use getAllClientSessions', E_USER_DEPRECATED);
        return self::run('getAllClientSessions', [$group]);
    }

    /** Deprecated in GatewayClient too (it echoes a warning): getClientSessionsByGroup. */
    public static function getClientInfoByGroup($group)
    {
        trigger_error('Gateway::getClientInfoByGroup is deprecated; use getClientSessionsByGroup', E_USER_DEPRECATED);
        return self::run('getClientSessionsByGroup', [$group]);
    }

    /** [uid => uid]. */
    public static function getAllUidList()
    {
        return self::run(__FUNCTION__, []);
    }

    public static function getAllUidCount()
    {
        return self::run(__FUNCTION__, []);
    }

    /** [group => group]. */
    public static function getAllGroupIdList()
    {
        return self::run(__FUNCTION__, []);
    }

    /** [group => [uid => uid]], every group (GatewayClient's stops early on some connections). */
    public static function getAllGroupUidList()
    {
        return self::run(__FUNCTION__, []);
    }

    /** [group => number of distinct uids]. */
    public static function getAllGroupUidCount()
    {
        return self::run(__FUNCTION__, []);
    }

    /** [group => [client_id => client_id]]. */
    public static function getAllGroupClientIdList()
    {
        return self::run(__FUNCTION__, []);
    }

    /** [group => number of connections]. */
    public static function getAllGroupClientIdCount()
    {
        return self::run(__FUNCTION__, []);
    }

    // ---- sessions ------------------------------------------------------------------------------

    /** The session array ([] when none was set), or null when the client is not connected. */
    public static function getSession($client_id)
    {
        return self::run(__FUNCTION__, [$client_id]);
    }

    /** Replaces the session. */
    public static function setSession($client_id, array $session)
    {
        self::run(__FUNCTION__, [$client_id, $session]);
    }

    /** Merges into the session (nested arrays merge); strict mode returns the merged session (GatewayClient: nothing). */
    public static function updateSession($client_id, array $session)
    {
        return self::run(__FUNCTION__, [$client_id, $session]);
    }

    /** GatewayWorker's internal serialized-session write: no such format here; use setSession. */
    public static function setSocketSession($client_id, $session_str)
    {
        throw new GatewayException('setSocketSession writes GatewayWorker\'s serialized session format, which does not exist here; use setSession($client_id, $session)', GatewayException::UNSUPPORTED);
    }

    // ---- several calls in one round trip -------------------------------------------------------

    /**
     * New: several calls in one invocation, run in order; the first that fails stops the rest and is
     * thrown (getIndex() says which, getResults() has the results of those before it). Each call is
     * [method, ...arguments], with this class's method names and arguments:
     *
     *     Gateway::batch([['bindUid', $client_id, $uid], ['joinGroup', $client_id, $group]]);
     *
     * Every call is checked before any runs: bad input anywhere runs none of them.
     * New, so it has no GatewayClient behaviour to keep: it works as strict mode in every mode
     * (a client that is gone fails the batch; results are shaped as in strict mode).
     *
     * @param list<array> $calls
     * @return list<mixed> each call's result, shaped as its method returns it
     */
    public static function batch(array $calls)
    {
        $methods = [];
        $events = [];
        foreach (array_values($calls) as $index => $call) {
            if (!is_array($call) || !is_string($call[0] ?? null)) {
                throw new GatewayException("batch call {$index} must be [method, ...arguments]", GatewayException::VALIDATION, ['index' => $index]);
            }
            $call = array_values($call);
            $method = array_shift($call);
            $methods[] = $method;
            $events[] = ['method' => self::apiMethodOf($method, $index), 'args' => self::arguments($method, $call)];
        }
        $answer = self::client()->invoke(['calls' => $events]);
        $results = [];
        foreach ($answer['results'] ?? [] as $index => $result) {
            if (!($result['ok'] ?? false)) {
                break;
            }
            $results[] = self::shape($methods[$index], $result['result'] ?? null);
        }
        if (!$answer['ok']) {
            throw GatewayException::fromApiError((array) ($answer['error'] ?? []), $results);
        }
        return $results;
    }

    // ---- the mapping onto the Gateway API ------------------------------------------------------

    /** True in strict mode (`$strict`, else GATEWAY_STRICT). */
    public static function isStrict(): bool
    {
        if (self::$strict !== null) {
            return self::$strict;
        }
        return in_array(strtolower((string) getenv(self::STRICT_ENV)), ['1', 'true', 'yes', 'on'], true);
    }

    /**
     * One call: its arguments prepared, one invocation, its result shaped as GatewayClient's. Outside
     * strict mode GatewayCompat first drops what GatewayClient would ignore, and turns a client that
     * is gone into GatewayClient's quiet answer.
     */
    private static function run(string $method, array $args)
    {
        $strict = self::isStrict();
        if (!$strict) {
            $prepared = GatewayCompat::prepare($method, $args);
            if ($prepared instanceof GatewayCompatSkip) {
                return $prepared->result;
            }
            $args = $prepared;
        }
        $answer = self::client()->invoke(['method' => self::apiMethodOf($method), 'args' => self::arguments($method, $args)]);
        if (!$answer['ok']) {
            $error = (array) ($answer['error'] ?? []);
            if (!$strict && GatewayCompat::isQuietFailure($method, $error)) {
                return GatewayCompat::quietResult($method);
            }
            throw GatewayException::fromApiError($error);
        }
        $result = self::shape($method, $answer['result'] ?? null);
        return $strict ? $result : GatewayCompat::shape($method, $result);
    }

    /**
     * Applies a configuration array in ThinkPHP's and webman's style (config/gateway_worker.php):
     * `registerAddress` (or `register_address`, `function`), `strict`, `secretKey`, `connectTimeout`,
     * `timeout`. Keys for GatewayWorker's own processes (ports, `businessWorker`, ...) are ignored, so
     * an app's existing file can be passed as it is.
     *
     * @param array<string, mixed> $config
     */
    public static function config(array $config): void
    {
        $function = $config['function'] ?? null;
        $address = $config['registerAddress'] ?? $config['register_address'] ?? null;
        if (is_string($function) && $function !== '') {
            self::$registerAddress = $function;
        } elseif ($address !== null) {
            self::$registerAddress = $address;
        }
        if (array_key_exists('strict', $config)) {
            self::$strict = $config['strict'] === null ? null : filter_var($config['strict'], FILTER_VALIDATE_BOOL);
        }
        foreach (['secretKey' => 'secretKey', 'secret_key' => 'secretKey', 'connectTimeout' => 'connectTimeout', 'connect_timeout' => 'connectTimeout', 'timeout' => 'timeout'] as $key => $property) {
            if (isset($config[$key])) {
                self::${$property} = $config[$key];
            }
        }
    }

    /**
     * The function `$registerAddress` selects, or null for this gateway's (GATEWAY_API_FUNCTION): a
     * GatewayClient register address (`ip:port`, `host:port`, `[ipv6]:port`, or `tcp://` / `text://`
     * before one), an array whose first entry is one, GatewayClient's default, empty or null.
     */
    public static function functionFromRegisterAddress($address): ?string
    {
        if (is_array($address)) {
            $address = reset($address);
        }
        if (!is_string($address) || trim($address) === '') {
            return null;
        }
        $address = trim($address);
        if (str_starts_with($address, 'arn:')) {
            return $address;
        }
        $isRegister = preg_match('#^(?:[a-z]+://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$#', $address) === 1;
        return $isRegister ? null : $address;
    }

    /** The PHP methods batch() accepts, with the Gateway API method each calls. */
    private static function apiMethodOf(string $method, ?int $index = null): string
    {
        $api = match ($method) {
            'getAllClientInfo' => 'getAllClientSessions',
            'getClientInfoByGroup' => 'getClientSessionsByGroup',
            'destoryCurrentClient', 'setSocketSession', 'batch' => null,
            default => method_exists(self::class, $method) && (new \ReflectionMethod(self::class, $method))->isPublic() ? $method : null,
        };
        if ($api === null) {
            throw new GatewayException("Gateway::{$method} cannot be called through the Gateway API", GatewayException::VALIDATION, $index === null ? [] : ['index' => $index]);
        }
        return $api;
    }

    /**
     * PHP values as the Gateway API reads them: integer uids and groups as strings (GatewayClient
     * takes `$user->id`), id and name arrays as lists (a `[id => id]` map from a query works as an
     * exclusion list), scalar messages as GatewayClient sends them (true as "1"), sessions as objects.
     */
    private static function arguments(string $method, array $args): array
    {
        $kinds = match ($method) {
            'sendToAll' => ['message', 'list', 'ids'],
            'sendToClient' => ['id', 'message'],
            'sendToUid', 'sendToGroup' => ['names', 'message', 'ids'],
            'closeClient' => ['id', 'message'],
            'closeUid' => ['name', 'message'],
            'bindUid', 'unbindUid', 'joinGroup', 'leaveGroup' => ['id', 'name', 'id'],
            'isUidOnline', 'getClientIdByUid', 'ungroup', 'getClientSessionsByGroup', 'getClientInfoByGroup' => ['name'],
            'getClientIdCountByGroup', 'getClientCountByGroup', 'getAllClientSessions', 'getAllClientInfo' => ['name'],
            'getClientIdListByGroup', 'getUidListByGroup', 'getUidCountByGroup' => ['names'],
            'isUidsOnline', 'batchGetClientIdByUid', 'batchGetClientIdCountByGroup' => ['nameList'],
            'setSession', 'updateSession' => ['id', 'session'],
            default => [],
        };
        foreach ($args as $i => $value) {
            $args[$i] = match ($kinds[$i] ?? 'id') {
                'name' => is_int($value) ? (string) $value : $value,
                'names' => is_array($value) ? array_map(static fn ($v) => is_int($v) ? (string) $v : $v, array_values($value)) : (is_int($value) ? (string) $value : $value),
                'nameList' => is_array($value) ? array_map(static fn ($v) => is_int($v) ? (string) $v : $v, array_values($value)) : $value,
                'list', 'ids' => is_array($value) ? array_values($value) : $value,
                'message' => is_bool($value) || is_int($value) || is_float($value) ? (string) $value : $value,
                'session' => is_array($value) ? (object) $value : $value,
                default => $value,
            };
        }
        return $args;
    }

    /** Gateway API results in GatewayClient's shapes. */
    private static function shape(string $method, mixed $result): mixed
    {
        $keyed = static fn (array $list): array => $list === [] ? [] : array_combine($list, $list);
        return match ($method) {
            'isOnline', 'isUidOnline' => $result ? 1 : 0,
            'isUidsOnline' => array_map(static fn ($online) => $online ? 1 : 0, (array) $result),
            'getClientIdListByGroup', 'getAllClientIdList', 'getUidListByGroup', 'getAllUidList', 'getAllGroupIdList' => $keyed((array) $result),
            'getAllGroupUidList', 'getAllGroupClientIdList' => array_map($keyed, (array) $result),
            'bindUid', 'unbindUid', 'joinGroup', 'leaveGroup', 'ungroup', 'setSession' => null,
            default => $result,
        };
    }

    private static function refuseRaw($raw, string $method): void
    {
        if ($raw) {
            throw new GatewayException("{$method}: \$raw (a pre-framed message) cannot be sent: API Gateway frames every message itself", GatewayException::UNSUPPORTED);
        }
    }

    private static function client(): GatewayApiClient
    {
        $function = self::functionFromRegisterAddress(self::$registerAddress);
        $key = json_encode([$function, self::$connectTimeout, self::$timeout]);
        if (self::$client === null || self::$clientKey !== $key) {
            self::$client = new GatewayApiClient($function, self::$connectTimeout, self::$timeout);
            self::$clientKey = $key;
        }
        return self::$client;
    }
}
