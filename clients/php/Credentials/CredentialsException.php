<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/**
 * A credential source that is configured but failed (an unreadable token file, STS refusing the
 * role, a container endpoint that answered an error). The chain stops there rather than trying the
 * next source: falling through to another identity would sign as someone the app did not choose.
 */
final class CredentialsException extends \RuntimeException
{
}
