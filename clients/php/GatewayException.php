<?php

declare(strict_types=1);

namespace GatewayClient;

/**
 * Every failure of a Gateway call, where GatewayClient would echo a warning and carry on, return
 * false, or fail somewhere in its socket code. Branch on getErrorCode() (stable), not on the message.
 *
 * Codes from the Gateway (the Node SDK's codes, passed through): VALIDATION, PAYLOAD_TOO_LARGE,
 * CONNECTION_GONE, THROTTLED, FORBIDDEN, BAD_REQUEST, SERVICE_ERROR, NETWORK, CONFLICT,
 * LIMIT_EXCEEDED, BIND_TOKEN (getDetails()['reason']: missing, malformed, mismatch, expired), CONFIGURATION. Codes of this client: CONFIGURATION (no function name, region or
 * credentials), VALIDATION (an argument JSON cannot carry, e.g. a string that is not UTF-8),
 * UNSUPPORTED (a GatewayClient feature that cannot exist here), NETWORK (no HTTP answer from Lambda),
 * THROTTLED / FORBIDDEN / SERVICE_ERROR (Lambda refused the invocation; getDetails() has statusCode
 * and errorType), FUNCTION_ERROR (the Gateway API function itself crashed), CREDENTIALS (a
 * credential source is configured but failed: STS refused the role, a token file is unreadable, the
 * container endpoint answered an error; getPrevious() says which).
 */
class GatewayException extends \RuntimeException
{
    public const VALIDATION = 'VALIDATION';
    public const PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE';
    public const CONFIGURATION = 'CONFIGURATION';
    public const CONNECTION_GONE = 'CONNECTION_GONE';
    public const THROTTLED = 'THROTTLED';
    public const FORBIDDEN = 'FORBIDDEN';
    public const BAD_REQUEST = 'BAD_REQUEST';
    public const SERVICE_ERROR = 'SERVICE_ERROR';
    public const NETWORK = 'NETWORK';
    public const CONFLICT = 'CONFLICT';
    public const LIMIT_EXCEEDED = 'LIMIT_EXCEEDED';
    public const BIND_TOKEN = 'BIND_TOKEN';
    public const UNSUPPORTED = 'UNSUPPORTED';
    public const FUNCTION_ERROR = 'FUNCTION_ERROR';
    public const CREDENTIALS = 'CREDENTIALS';

    /**
     * @param array<string, mixed> $details what else is known: statusCode, errorType, connectionId,
     *        limit, size, reason (from the Gateway), index (the failed call of a batch)
     * @param list<mixed> $results a batch's results of the calls that ran before the failed one
     */
    public function __construct(
        string $message,
        private readonly string $errorCode,
        private readonly array $details = [],
        private readonly array $results = [],
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message, 0, $previous);
    }

    /** A stable code, one of the constants above. */
    public function getErrorCode(): string
    {
        return $this->errorCode;
    }

    /** @return array<string, mixed> */
    public function getDetails(): array
    {
        return $this->details;
    }

    /** In Gateway::batch(), the 0-based index of the call that failed; null otherwise. */
    public function getIndex(): ?int
    {
        return isset($this->details['index']) ? (int) $this->details['index'] : null;
    }

    /** In Gateway::batch(), the results of the calls that ran before the failed one. @return list<mixed> */
    public function getResults(): array
    {
        return $this->results;
    }

    /** An error object of the Gateway API's answer: {code, name, message, ...details}. */
    public static function fromApiError(array $error, array $results = []): self
    {
        $details = $error;
        unset($details['code'], $details['name'], $details['message']);
        $code = is_string($error['code'] ?? null) ? $error['code'] : self::SERVICE_ERROR;
        $message = is_string($error['message'] ?? null) ? $error['message'] : 'the Gateway API reported an error without a message';
        return new self($message, $code, $details, $results);
    }
}
