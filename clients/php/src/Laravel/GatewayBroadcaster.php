<?php

declare(strict_types=1);

namespace GatewayClient\Laravel;

use GatewayClient\GatewayApiClient;
use GatewayClient\GatewayException;
use Illuminate\Broadcasting\BroadcastException;
use Illuminate\Broadcasting\Broadcasters\Broadcaster;
use Illuminate\Broadcasting\Broadcasters\UsePusherChannelConventions;
use Illuminate\Support\Arr;
use Symfony\Component\HttpKernel\Exception\AccessDeniedHttpException;
use Symfony\Component\HttpKernel\Exception\HttpException;

/**
 * Laravel's broadcaster on the serverless gateway: a channel is the gateway group of the same name
 * (`orders`, `private-orders.1`, `presence-room.1`), so the Node SDK's sendToGroup reaches the same
 * subscribers. Every call is one Invoke of the Gateway API function (GatewayApiClient).
 *
 * Subscribing: the gateway has no join a page can make; only a backend joins a connection to a group.
 * So the app's own /broadcasting/auth (Broadcast::routes()) does the join after Laravel authorized
 * the channel: the Echo connector posts `socket_id` (the client id), `bind_token` (from the init
 * message) and `channel_name`; auth() runs the channel's callback from routes/channels.php for
 * private- and presence- channels (a guest or a callback answering false is a 403 and nothing is
 * joined), then joins the connection (joinGroup, or joinPresence with the user's id and the callback's
 * array) with the bind token, which the gateway checks when it requires tokens. A public channel is
 * joined for anyone, as Pusher's are. The answer is `{"channel": name}`, plus `"members"` for a
 * presence channel. `leave=1` in the same request leaves the group instead (Echo's leave()). Only
 * POST with the session's CSRF token is taken (refuseCrossSite says why).
 *
 * Broadcasting: one message per channel, `{"event": name, "channel": name, "data": payload}`, sent
 * with sendToGroup (one batched Invoke for all channels), excluding the X-Socket-ID connection when
 * the event was sent with toOthers().
 */
final class GatewayBroadcaster extends Broadcaster
{
    use UsePusherChannelConventions;

    /** The Gateway API's batch limit (lambdas/gatewayApiProtocol.ts MAX_CALLS_PER_BATCH). */
    private const MAX_CALLS_PER_INVOKE = 25;

    /** An API Gateway connection id, as the SDK checks it. */
    private const CLIENT_ID = '/^[A-Za-z0-9_-]{15}=$/';

    public function __construct(
        private readonly GatewayApiClient $client,
        private readonly bool $leaveRequiresBindToken = true,
    ) {
    }

    /**
     * Authorizes the request for the channel and joins (or with `leave`, leaves) it.
     *
     * @param \Illuminate\Http\Request $request
     */
    public function auth($request)
    {
        $this->refuseCrossSite($request);
        $channel = $request->input('channel_name');
        $clientId = $request->input('socket_id');
        if (!is_string($channel) || $channel === '' || !is_string($clientId) || preg_match(self::CLIENT_ID, $clientId) !== 1) {
            throw new AccessDeniedHttpException('channel_name and socket_id (the gateway client id) are required');
        }
        if ($request->boolean('leave')) {
            return $this->leave($request, $clientId, $channel);
        }
        if (!$this->isGuardedChannel($channel)) {
            $this->call('joinGroup', [$clientId, $channel, $this->bindToken($request)]);
            return ['channel' => $channel];
        }
        $name = $this->normalizeChannelName($channel);
        if (!$this->retrieveUser($request, $name)) {
            throw new AccessDeniedHttpException();
        }
        return $this->verifyUserCanAccessChannel($request, $name);
    }

    /**
     * Called by verifyUserCanAccessChannel once the channel's callback allowed the user: the join.
     *
     * @param \Illuminate\Http\Request $request
     * @param mixed $result what the callback returned (a presence channel's user info)
     */
    public function validAuthenticationResponse($request, $result)
    {
        $channel = (string) $request->input('channel_name');
        $clientId = (string) $request->input('socket_id');
        if (!str_starts_with($channel, 'presence-')) {
            $this->call('joinGroup', [$clientId, $channel, $this->bindToken($request)]);
            return ['channel' => $channel];
        }
        $user = $this->retrieveUser($request, $this->normalizeChannelName($channel));
        $id = method_exists($user, 'getAuthIdentifierForBroadcasting') ? $user->getAuthIdentifierForBroadcasting() : $user->getAuthIdentifier();
        $member = ['id' => (string) $id, 'info' => is_array($result) ? $result : null];
        $joined = $this->call('joinPresence', [$clientId, $channel, $member, $this->bindToken($request)]);
        return ['channel' => $channel, 'members' => $joined['members'] ?? []];
    }

    /**
     * @param array<int, \Illuminate\Broadcasting\Channel|string> $channels
     * @param string $event
     * @param array<string, mixed> $payload
     */
    public function broadcast(array $channels, $event, array $payload = [])
    {
        $socket = Arr::pull($payload, 'socket');
        // A header a page can set: one that is no client id excludes nobody rather than failing the send.
        $exclude = is_string($socket) && preg_match(self::CLIENT_ID, $socket) === 1 ? $socket : null;
        $calls = [];
        foreach ($this->formatChannels($channels) as $channel) {
            $message = json_encode(['event' => $event, 'channel' => $channel, 'data' => $payload === [] ? new \stdClass() : $payload], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR);
            $calls[] = ['method' => 'sendToGroup', 'args' => [$channel, $message, $exclude]];
        }
        foreach (array_chunk($calls, self::MAX_CALLS_PER_INVOKE) as $chunk) {
            try {
                $answer = $this->client->invoke(['calls' => $chunk]);
            } catch (GatewayException $e) {
                throw new BroadcastException("Gateway error: {$e->getMessage()}", 0, $e);
            }
            if (!$answer['ok']) {
                $error = GatewayException::fromApiError((array) ($answer['error'] ?? []));
                throw new BroadcastException("Gateway error ({$error->getErrorCode()}): {$error->getMessage()}", 0, $error);
            }
        }
    }

    /**
     * A join here has an effect (Pusher's auth only signs), and Laravel registers /broadcasting/auth
     * for GET and POST without its CSRF middleware: a page elsewhere could make a logged-in user's
     * browser join the other page's own connection to the user's private channel. So only POST, and,
     * when the request has a session (cookie authentication), only with the session's CSRF token
     * (X-CSRF-TOKEN, which the connector sends, or `_token`).
     *
     * @param \Illuminate\Http\Request $request
     */
    private function refuseCrossSite($request): void
    {
        if (!$request->isMethod('POST')) {
            throw new HttpException(405, 'POST only: a subscription joins the connection to the channel', null, ['Allow' => 'POST']);
        }
        if (!$request->hasSession()) {
            return;
        }
        $token = $request->header('X-CSRF-TOKEN') ?? $request->input('_token');
        $expected = $request->session()->token();
        if (!is_string($token) || !is_string($expected) || !hash_equals($expected, $token)) {
            throw new AccessDeniedHttpException('CSRF token mismatch: send the X-CSRF-TOKEN header');
        }
    }

    /** @param \Illuminate\Http\Request $request */
    private function leave($request, string $clientId, string $channel): array
    {
        $token = $this->bindToken($request);
        if ($token === null && $this->leaveRequiresBindToken) {
            throw new AccessDeniedHttpException('a leave needs the connection\'s bind_token');
        }
        $this->call('leaveGroup', [$clientId, $channel, $token]);
        return ['channel' => $channel, 'left' => true];
    }

    /** @param \Illuminate\Http\Request $request */
    private function bindToken($request): ?string
    {
        $token = $request->input('bind_token');
        return is_string($token) && $token !== '' ? $token : null;
    }

    /** One Gateway API call; its failures as the HTTP answers of /broadcasting/auth. */
    private function call(string $method, array $args): mixed
    {
        try {
            $answer = $this->client->invoke(['method' => $method, 'args' => $args]);
        } catch (GatewayException $e) {
            throw new HttpException(503, "the gateway could not be reached: {$e->getMessage()}", $e);
        }
        if ($answer['ok']) {
            return $answer['result'] ?? null;
        }
        $error = GatewayException::fromApiError((array) ($answer['error'] ?? []));
        throw match ($error->getErrorCode()) {
            GatewayException::BIND_TOKEN => new AccessDeniedHttpException("the bind token does not match the connection: {$error->getMessage()}", $error),
            // The page's connection closed meanwhile: it joins again on its next connection.
            GatewayException::CONNECTION_GONE => new HttpException(410, $error->getMessage(), $error),
            GatewayException::VALIDATION, GatewayException::LIMIT_EXCEEDED => new HttpException(422, $error->getMessage(), $error),
            default => new HttpException(503, "the gateway refused {$method} ({$error->getErrorCode()}): {$error->getMessage()}", $error),
        };
    }
}
