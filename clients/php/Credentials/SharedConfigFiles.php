<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/**
 * The shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`) as the AWS SDKs
 * read them: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE move them; the config file names
 * profiles `[profile x]` (and `[default]`), the credentials file `[x]`; for the same profile the
 * credentials file's keys win. Comment lines start with `#` or `;`; indented lines are a nested
 * setting's sub-keys (`s3 =` then `  max_concurrent_requests = 10`) and are skipped.
 */
final class SharedConfigFiles
{
    /** @param array<string, array<string, string>> $profiles */
    private function __construct(private readonly array $profiles)
    {
    }

    /** @param \Closure(string): ?string $env */
    public static function load(\Closure $env): self
    {
        $home = self::home($env);
        $configFile = $env('AWS_CONFIG_FILE') ?? ($home === null ? null : $home . '/.aws/config');
        $credentialsFile = $env('AWS_SHARED_CREDENTIALS_FILE') ?? ($home === null ? null : $home . '/.aws/credentials');
        $profiles = [];
        foreach (self::parse($configFile) as $section => $values) {
            $name = $section === 'default' ? 'default' : (str_starts_with($section, 'profile ') ? trim(substr($section, 8)) : null);
            if ($name !== null && $name !== '') {
                $profiles[$name] = array_replace($profiles[$name] ?? [], $values);
            }
        }
        foreach (self::parse($credentialsFile) as $section => $values) {
            $profiles[$section] = array_replace($profiles[$section] ?? [], $values);
        }
        return new self($profiles);
    }

    /** @return array<string, string>|null the profile's keys (lower-cased), null when no file has it */
    public function profile(string $name): ?array
    {
        return $this->profiles[$name] ?? null;
    }

    /** @param \Closure(string): ?string $env */
    private static function home(\Closure $env): ?string
    {
        $home = $env('HOME') ?? $env('USERPROFILE');
        if ($home === null && function_exists('posix_getpwuid') && function_exists('posix_geteuid')) {
            $entry = posix_getpwuid(posix_geteuid());
            $home = is_array($entry) && is_string($entry['dir'] ?? null) ? $entry['dir'] : null;
        }
        return $home === null ? null : rtrim($home, '/');
    }

    /** @return array<string, array<string, string>> section => key => value */
    private static function parse(?string $file): array
    {
        if ($file === null || !is_file($file) || !is_readable($file)) {
            return [];
        }
        $sections = [];
        $current = null;
        foreach (preg_split('/\r?\n/', (string) file_get_contents($file)) as $raw) {
            $line = trim($raw);
            if ($line === '' || $line[0] === '#' || $line[0] === ';') {
                continue;
            }
            if (preg_match('/^\[([^\]]+)\]/', $line, $m) === 1) {
                $current = trim(preg_replace('/\s+/', ' ', $m[1]));
                $sections[$current] ??= [];
                continue;
            }
            if ($current === null || $raw[0] === ' ' || $raw[0] === "\t" || !str_contains($line, '=')) {
                continue;
            }
            [$key, $value] = array_map('trim', explode('=', $line, 2));
            // An inline comment needs whitespace before its `#` or `;` (a secret may contain either).
            $value = trim((string) preg_replace('/\s[#;].*$/', '', $value));
            $sections[$current][strtolower($key)] = $value;
        }
        return $sections;
    }
}
