// grammY pointed at Hotline's gateway (see README.md).
//
//   HOTLINE=http://127.0.0.1:8080 TOKEN=... node grammy_bot.js [polling | webhook PORT URL]
//
// In webhook mode sendMessage may go out as the webhook's JSON answer (canUseWebhookReply).
const http = require('http')
const { Bot, InlineKeyboard, InputFile, webhookCallback } = require('grammy')
const { hydrateFiles } = require('@grammyjs/files')

const HOTLINE = process.env.HOTLINE || 'http://127.0.0.1:8080'
const TOKEN = process.env.TOKEN || '5000001:sandbox-demo-token'
const webhook = process.argv[2] === 'webhook'
const bot = new Bot(TOKEN, {
  client: { apiRoot: HOTLINE, canUseWebhookReply: (method) => webhook && method === 'sendMessage' }
})

// The files plugin builds download URLs from its own apiRoot: give it Hotline's too.
bot.api.config.use(hydrateFiles(bot.token, { apiRoot: HOTLINE }))

bot.hears('menu', (ctx) => ctx.api.sendMessage(ctx.chat.id, 'Menu', {
  reply_markup: new InlineKeyboard().text('Buy', 'buy').row().url('Site', 'https://example.com')
}))
bot.hears('temp', async (ctx) => {
  // Not ctx.api: in webhook mode its first sendMessage is the webhook reply, which resolves
  // to `true` rather than the Message, so there would be no message_id to delete.
  const sent = await bot.api.sendMessage(ctx.chat.id, 'temporary')
  await ctx.api.deleteMessage(ctx.chat.id, sent.message_id)
})
bot.hears('handover', async (ctx) => {
  await ctx.api.raw.hotlineHandover({ chat_id: ctx.chat.id })
  await ctx.api.raw.hotlineResume({ chat_id: ctx.chat.id })
  await ctx.reply('handover done')
})
bot.hears('photo', (ctx) => ctx.replyWithPhoto(new InputFile(Buffer.from('fake jpeg bytes'), 'p.jpg'), { caption: 'Our catalogue' }))
bot.on([':document', ':photo'], async (ctx) => {
  const file = await ctx.getFile()
  // file.download() fetches with node's https module only: over plain http:// use getUrl().
  const body = Buffer.from(await (await fetch(file.getUrl())).arrayBuffer())
  await ctx.api.sendMessage(ctx.chat.id, `got ${body.length} bytes: ${body.toString()}`)
})
bot.on(':text', (ctx) => ctx.reply(`echo: ${ctx.message.text}`))
bot.callbackQuery('buy', async (ctx) => {
  await ctx.answerCallbackQuery('Added to cart')
  await ctx.editMessageText('Bought!')
})

bot.catch((err) => console.error('grammy_bot: handler error:', err.error))

async function main () {
  if (webhook) {
    const port = Number(process.argv[3])
    await bot.init()
    await bot.api.setWebhook(process.argv[4], { secret_token: 'grammy-secret' })
    http.createServer(webhookCallback(bot, 'http', { secretToken: 'grammy-secret' })).listen(port, '127.0.0.1')
  } else {
    await bot.api.deleteWebhook()
    bot.start()
  }
}
main()
