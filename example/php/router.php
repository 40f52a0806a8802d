<?php
// For PHP's built-in server: `php -S 127.0.0.1:8081 -t example/php example/php/router.php`.
// It answers only loopback host names and those in ALLOWED_HOSTS (comma-separated): a page on
// another name pointed at 127.0.0.1 (DNS rebinding) gets 403. Behind Apache or nginx, their
// virtual hosts do this.
// jQuery comes from Debian's libjs-jquery package (apt-get install libjs-jquery), not a copy here;
// everything else is served as the built-in server serves it.
$host = strtolower(preg_replace('/:\d{1,5}$/', '', $_SERVER['HTTP_HOST'] ?? ''));
$allowed = array_filter(array_map('trim', explode(',', strtolower(getenv('ALLOWED_HOSTS') ?: ''))));
$loopback = $host === 'localhost' || str_ends_with($host, '.localhost') || $host === '[::1]'
    || (filter_var($host, FILTER_VALIDATE_IP, FILTER_FLAG_IPV4) && str_starts_with($host, '127.'));
if (!$loopback && !in_array($host, $allowed, true)) {
    http_response_code(403);
    header('Content-Type: text/plain');
    exit("This server does not answer that host name.\n");
}
if (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) === '/jquery.min.js') {
    $jquery = '/usr/share/javascript/jquery/jquery.min.js';
    if (!is_file($jquery)) {
        http_response_code(404);
        exit("jQuery not found at {$jquery}: apt-get install libjs-jquery\n");
    }
    header('Content-Type: text/javascript');
    readfile($jquery);
    return true;
}
return false;
