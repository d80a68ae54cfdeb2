<?php
// Sends one SMS with Symfony's OvhCloud notifier (Debian's php-symfony-ovh-cloud-notifier), as a PHP
// application configured with an OVH DSN does, to a Relais given by the environment; prints one JSON line.
require '/usr/share/php/Symfony/Component/Notifier/Bridge/OvhCloud/autoload.php';
require '/usr/share/php/Symfony/Component/HttpClient/autoload.php';

use Symfony\Component\HttpClient\HttpClient;
use Symfony\Component\Notifier\Bridge\OvhCloud\OvhCloudTransport;
use Symfony\Component\Notifier\Message\SmsMessage;

$env = fn (string $name) => getenv($name) === false ? '' : getenv($name);
$client = HttpClient::create(['cafile' => $env('RELAIS_CA_FILE')]);
$transport = new OvhCloudTransport($env('OVH_AK'), $env('OVH_AS'), $env('OVH_CK'), $env('OVH_SERVICE'), $client);
$transport->setHost($env('RELAIS_HOST'))->setPort((int) $env('RELAIS_PORT'));
if ($env('OVH_SENDER') !== '') {
    $transport->setSender($env('OVH_SENDER'));
}
try {
    $sent = $transport->send(new SmsMessage($env('SMS_TO'), $env('SMS_TEXT')));
    echo json_encode(['id' => $sent->getMessageId(), 'transport' => (string) $transport]), "\n";
} catch (\Throwable $e) {
    echo json_encode(['error' => get_class($e), 'message' => $e->getMessage()]), "\n";
    exit(1);
}
