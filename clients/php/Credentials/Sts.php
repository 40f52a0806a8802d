<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

use GatewayClient\SigV4Signer;

/**
 * The two STS calls credential sources need, on STS's Query protocol (a form POST, an XML answer):
 * AssumeRole (signed with the source profile's credentials) and AssumeRoleWithWebIdentity (not
 * signed: the token is the proof). Endpoint: AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else the
 * region's `https://sts.{region}.amazonaws.com` (the global endpoint when no region is known).
 */
final class Sts
{
    /** @param \Closure(string): ?string $env */
    public function __construct(private readonly \Closure $env, private readonly ?string $region)
    {
    }

    public function assumeRole(Credentials $source, string $roleArn, string $sessionName, ?string $externalId, int $durationSeconds): Credentials
    {
        $form = ['Action' => 'AssumeRole', 'Version' => '2011-06-15', 'RoleArn' => $roleArn, 'RoleSessionName' => $sessionName, 'DurationSeconds' => (string) $durationSeconds];
        if ($externalId !== null) {
            $form['ExternalId'] = $externalId;
        }
        return $this->call($form, $source, "role {$roleArn}");
    }

    public function assumeRoleWithWebIdentity(string $roleArn, string $sessionName, string $token): Credentials
    {
        $form = ['Action' => 'AssumeRoleWithWebIdentity', 'Version' => '2011-06-15', 'RoleArn' => $roleArn, 'RoleSessionName' => $sessionName, 'WebIdentityToken' => $token];
        return $this->call($form, null, "web identity role {$roleArn}");
    }

    /** @param array<string, string> $form */
    private function call(array $form, ?Credentials $signWith, string $what): Credentials
    {
        $region = $this->region ?? 'us-east-1';
        $suffix = str_starts_with($region, 'cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
        $default = $this->region === null ? 'https://sts.amazonaws.com' : "https://sts.{$region}.{$suffix}";
        $endpoint = rtrim(($this->env)('AWS_ENDPOINT_URL_STS') ?? ($this->env)('AWS_ENDPOINT_URL') ?? $default, '/');
        $parts = parse_url($endpoint);
        if (!is_array($parts) || !isset($parts['scheme'], $parts['host']) || !in_array($parts['scheme'], ['http', 'https'], true)) {
            throw new CredentialsException("the STS endpoint {$endpoint} is not an http(s) URL");
        }
        $defaultPort = $parts['scheme'] === 'https' ? 443 : 80;
        $host = $parts['host'] . (isset($parts['port']) && $parts['port'] !== $defaultPort ? ':' . $parts['port'] : '');
        $path = ($parts['path'] ?? '') === '' ? '/' : $parts['path'];
        $body = http_build_query($form, '', '&', PHP_QUERY_RFC3986);
        $headers = ['host' => $host, 'content-type' => 'application/x-www-form-urlencoded; charset=utf-8'];
        if ($signWith !== null) {
            $headers['x-amz-date'] = SigV4Signer::amzDate(time());
            if ($signWith->sessionToken !== null) {
                $headers['x-amz-security-token'] = $signWith->sessionToken;
            }
            $headers['authorization'] = (new SigV4Signer($region, 'sts'))->authorization('POST', $path, [], $headers, hash('sha256', $body), $signWith->forSigning());
        }
        $answer = HttpFetch::request('POST', $parts['scheme'] . '://' . $host . $path, $headers, $body, 3.0);
        if ($answer === null) {
            throw new CredentialsException("STS at {$endpoint} did not answer ({$what})");
        }
        $xml = $answer['body'];
        if ($answer['status'] !== 200) {
            $code = self::element($xml, 'Code') ?? 'HTTP ' . $answer['status'];
            throw new CredentialsException("STS refused {$what}: {$code}: " . (self::element($xml, 'Message') ?? substr($xml, 0, 200)));
        }
        $keyId = self::element($xml, 'AccessKeyId');
        $secret = self::element($xml, 'SecretAccessKey');
        if ($keyId === null || $secret === null) {
            throw new CredentialsException("STS's answer for {$what} has no credentials: " . substr($xml, 0, 200));
        }
        return new Credentials($keyId, $secret, self::element($xml, 'SessionToken'), Credentials::parseTime(self::element($xml, 'Expiration')), $what);
    }

    /** The text of the first `<name>` element (STS's answers are flat enough for this; no XML extension needed). */
    private static function element(string $xml, string $name): ?string
    {
        if (preg_match('/<' . $name . '>([^<]*)<\/' . $name . '>/', $xml, $m) !== 1) {
            return null;
        }
        return html_entity_decode($m[1], ENT_QUOTES | ENT_XML1, 'UTF-8');
    }
}
